// A local broker with a SASL_PLAINTEXT listener (SCRAM-SHA-256/512 and PLAIN) next to the plaintext
// one, and optionally SSL and SASL_SSL listeners from a PKCS#12 keystore, for tests of the worker's
// Kafka authentication and encryption. Same classpath and process handling as kafka.ts; SCRAM users
// are created at format time (KRaft: StorageTool format --add-scram).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { kafkaAnswers, kafkaLibs, newClusterId, serverProperties, stopKafka } from '../../tools/stack/kafka.ts';
import { freePort, pidAlive, portAnswers, run, sleep, terminate } from '../../tools/stack/process.ts';

type Log = (line: string) => void;
const READY_TIMEOUT_MS = 90_000;

export interface SaslUser {
  name: string;
  password: string;
}

export interface SaslKafkaState {
  pid: number;
  /** Plaintext listener (topic admin from tests). */
  brokers: string;
  /** SASL_PLAINTEXT listener: SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. */
  saslBrokers: string;
  /** With `tls`: the SSL listener (TLS, no SASL) and the SASL_SSL one (TLS and the SASL mechanisms). */
  sslBrokers?: string;
  saslSslBrokers?: string;
}

/** The broker's TLS identity: a PKCS#12 keystore holding its key and certificate chain. */
export interface BrokerTls {
  keystoreFile: string;
  password: string;
}

interface Ports {
  plain: number;
  sasl: number;
  controller: number;
  ssl?: number;
  saslSsl?: number;
}

const jaasValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

function properties(dataDir: string, ports: Ports, users: SaslUser[], tls: BrokerTls | undefined): string {
  const plainUsers = users.map((u) => `user_${u.name}="${jaasValue(u.password)}"`).join(' ');
  const listeners = [`PLAINTEXT://127.0.0.1:${ports.plain}`, `SASL_PLAINTEXT://127.0.0.1:${ports.sasl}`];
  if (tls) listeners.push(`SSL://127.0.0.1:${ports.ssl}`, `SASL_SSL://127.0.0.1:${ports.saslSsl}`);
  const saslListeners = tls ? ['sasl_plaintext', 'sasl_ssl'] : ['sasl_plaintext'];
  const jaas: Record<string, string> = {};
  for (const l of saslListeners) {
    jaas[`listener.name.${l}.scram-sha-512.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    jaas[`listener.name.${l}.scram-sha-256.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    jaas[`listener.name.${l}.plain.sasl.jaas.config`] = `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`;
  }
  const ssl: Record<string, string> = tls
    ? { 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': tls.keystoreFile, 'ssl.keystore.password': tls.password, 'ssl.key.password': tls.password }
    : {};
  return serverProperties(dataDir, ports.plain, ports.controller, {
    listeners: `${listeners.join(',')},CONTROLLER://127.0.0.1:${ports.controller}`,
    'advertised.listeners': listeners.join(','),
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT${tls ? ',SSL:SSL,SASL_SSL:SASL_SSL' : ''}`,
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN',
    ...jaas,
    ...ssl,
    'offsets.topic.num.partitions': 3,
    'num.io.threads': 2,
  });
}

/** Formats a fresh data dir under `root` with the SCRAM users and starts the broker detached. */
export async function startSaslKafka(repo: string, root: string, users: SaslUser[], log: Log, tls?: BrokerTls): Promise<SaslKafkaState> {
  const libs = await kafkaLibs(repo, root, log);
  const dir = join(root, 'kafka');
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await stopKafka(root, undefined, log);
  const ports: Ports = { plain: await freePort(), sasl: await freePort(), controller: await freePort() };
  if (tls) {
    ports.ssl = await freePort();
    ports.saslSsl = await freePort();
  }
  const { plain: port, sasl: saslPort } = ports;
  const props = join(dir, 'server.properties');
  await writeFile(props, properties(dataDir, ports, users, tls), { mode: 0o600 });
  const log4j = `-Dlog4j2.configurationFile=${join(repo, 'stack/kafka/log4j2.properties')}`;
  const cp = join(libs, '*');
  const scram = users.flatMap((u) => ['SCRAM-SHA-512', 'SCRAM-SHA-256'].flatMap((m) => ['--add-scram', `${m}=[name=${u.name},password=${u.password}]`]));
  log(`kafka-sasl: formatting storage with ${users.length} SCRAM user(s)`);
  await run('java', ['-Xmx256m', '-cp', cp, log4j, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', props, '-g', ...scram]);
  const logFile = join(dir, 'kafka.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('java', ['-Xms128m', '-Xmx512m', '-Djava.awt.headless=true', '-cp', cp, log4j, 'kafka.Kafka', props], { cwd: dir, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error('kafka-sasl: java did not start');
  await writeFile(join(dir, 'kafka.pid'), `${pid}\n`);
  const brokers = `127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-40).join('\n');
    if (!pidAlive(pid)) throw new Error(`kafka-sasl: broker exited during start-up:\n${await tail()}`);
    const open = await Promise.all([port, saslPort, ...(tls ? [ports.ssl!, ports.saslSsl!] : [])].map((p) => portAnswers(p)));
    if (open.every(Boolean) && (await kafkaAnswers(brokers))) break;
    if (Date.now() > deadline) {
      await terminate(pid, 5000);
      throw new Error(`kafka-sasl: no answer within ${READY_TIMEOUT_MS / 1000} s:\n${await tail()}`);
    }
    await sleep(300);
  }
  log(`kafka-sasl: pid ${pid}, plaintext ${brokers}, SASL 127.0.0.1:${saslPort}${tls ? `, SSL 127.0.0.1:${ports.ssl}, SASL_SSL 127.0.0.1:${ports.saslSsl}` : ''}`);
  return {
    pid,
    brokers,
    saslBrokers: `127.0.0.1:${saslPort}`,
    ...(tls ? { sslBrokers: `127.0.0.1:${ports.ssl}`, saslSslBrokers: `127.0.0.1:${ports.saslSsl}` } : {}),
  };
}

/** Stops the broker started by startSaslKafka under `root`. */
export async function stopSaslKafka(root: string, pid: number | undefined, log: Log): Promise<void> {
  await stopKafka(root, pid, log);
}
