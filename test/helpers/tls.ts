// A throw-away PKI for the TLS tests: a CA, a server certificate for 127.0.0.1 signed
// by it, and a second, unrelated CA that must not be trusted. Made with node-forge from keys Node
// generates, so the tests need neither openssl nor keytool.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestPki {
  /** PEM of the CA that signed the server certificate. */
  caFile: string;
  /** PEM of another CA: a client trusting only this one must refuse the server. */
  otherCaFile: string;
  /** PEM server certificate (SAN IP:127.0.0.1 only) and its unencrypted key (mode 0600). */
  certFile: string;
  keyFile: string;
  /** The same key and certificate chain as a PKCS#12 keystore (Kafka's ssl.keystore.location). */
  keystoreFile: string;
  keystorePassword: string;
}

function keyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) };
}

function certificate(subject: string, publicKey: forge.pki.PublicKey, issuer: { name: string; key: forge.pki.rsa.PrivateKey } | 'self', ca: boolean, selfKey: forge.pki.rsa.PrivateKey): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer === 'self' ? subject : issuer.name }]);
  cert.setExtensions(
    ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
        ],
  );
  cert.sign(issuer === 'self' ? selfKey : issuer.key, forge.md.sha256.create());
  return cert;
}

/** Writes a fresh PKI under `dir`. */
export async function makePki(dir: string): Promise<TestPki> {
  await mkdir(dir, { recursive: true });
  const ca = keyPair();
  const caCert = certificate('orchestry test CA', ca.publicKey, 'self', true, ca.privateKey);
  const other = keyPair();
  const otherCert = certificate('some other CA', other.publicKey, 'self', true, other.privateKey);
  const server = keyPair();
  const serverCert = certificate('orchestry test server', server.publicKey, { name: 'orchestry test CA', key: ca.privateKey }, false, server.privateKey);

  const keystorePassword = randomBytes(12).toString('hex');
  const p12 = forge.pkcs12.toPkcs12Asn1(server.privateKey, [serverCert, caCert], keystorePassword, { algorithm: '3des', friendlyName: 'server' });
  const pki: TestPki = {
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other-ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    keystoreFile: join(dir, 'server.p12'),
    keystorePassword,
  };
  await writeFile(pki.caFile, forge.pki.certificateToPem(caCert));
  await writeFile(pki.otherCaFile, forge.pki.certificateToPem(otherCert));
  await writeFile(pki.certFile, forge.pki.certificateToPem(serverCert));
  await writeFile(pki.keyFile, forge.pki.privateKeyToPem(server.privateKey), { mode: 0o600 });
  await chmod(pki.keyFile, 0o600);
  await writeFile(pki.keystoreFile, Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary'));
  return pki;
}
