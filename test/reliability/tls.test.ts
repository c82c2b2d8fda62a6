// TLS, against real servers: a PostgreSQL with ssl=on and a Kafka broker with SSL and SASL_SSL
// listeners, both holding a certificate for 127.0.0.1 signed by a throw-away CA. The worker is
// configured only through its environment (DATABASE_SSL*, KAFKA_SSL*), and a server whose
// certificate it cannot verify is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { CompressionTypes, createKafka } from '../../src/kafka/client.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { repoRoot } from '../../tools/stack/index.ts';
import { startSaslKafka, stopSaslKafka, type SaslKafkaState } from '../support/kafka-sasl.ts';
import { startPostgres, stopPostgres } from '../../tools/stack/postgres.ts';
import type { PostgresState } from '../../tools/stack/state.ts';
import { startWorker, stopAll, whenReady, type Worker } from '../faults/harness.ts';
import { produce } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { tempRoot } from '../helpers/stack.ts';
import { makePki, type TestPki } from '../helpers/tls.ts';
import { waitUntil } from '../helpers/worker.ts';

const log = (l: string) => (process.env.TEST_LOG_LEVEL ? process.stderr.write(`[tls] ${l}\n`) : undefined);
const user = { name: 'ingest', password: `pw-${randomBytes(8).toString('hex')}` };
let root: string;
let pki: TestPki;
let pgs: PostgresState;
let k: SaslKafkaState;
const workers: Worker[] = [];

before(async () => {
  root = await tempRoot();
  // Under root/postgres, so the certificate and key are handed to the server's user with its data.
  pki = await makePki(join(root, 'postgres', 'tls'));
  pgs = await startPostgres(root, undefined, log, { ssl: 'on', ssl_cert_file: pki.certFile, ssl_key_file: pki.keyFile });
  k = await startSaslKafka(repoRoot(), root, [user], log, { keystoreFile: pki.keystoreFile, password: pki.keystorePassword });
});

after(async () => {
  await stopAll(workers, 5000);
  await stopSaslKafka(root, k?.pid, log).catch(() => {});
  await stopPostgres(root, log).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

type Db = Config['db'];
const dbConfig = (url: string, ssl: Db['ssl'], sslCaFile?: string): Db & { url: string } => ({
  url,
  poolMax: 1,
  ssl,
  sslCaFile,
  replicaUrl: undefined,
  statementTimeoutMs: 0,
});
const CERT_REFUSED = /self[- ]signed|unable to (verify|get)|certificate|altnames/i;

/** Whether the connection that answers is encrypted (pg_stat_ssl), or the error it failed with. */
async function encrypted(db: Db & { url: string }): Promise<boolean> {
  const pool = createPool(db, 'orchestry-tls-test');
  try {
    const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]!.ssl;
  } finally {
    await pool.end();
  }
}

test('PostgreSQL: verify-full with the right CA connects encrypted; another CA or a name the certificate lacks is refused', async () => {
  assert.equal(await encrypted(dbConfig(pgs.url, 'verify-full', pki.caFile)), true);
  await assert.rejects(encrypted(dbConfig(pgs.url, 'verify-full', pki.otherCaFile)), CERT_REFUSED);
  // The certificate names 127.0.0.1 only: reaching the same server as "localhost" must fail the check.
  await assert.rejects(encrypted(dbConfig(pgs.url.replace('127.0.0.1', 'localhost'), 'verify-full', pki.caFile)), /altnames|does not match/i);
  // require: encrypted, certificate not checked (libpq's meaning); disable: plain.
  assert.equal(await encrypted(dbConfig(pgs.url, 'require')), true);
  assert.equal(await encrypted(dbConfig(pgs.url, 'disable')), false);
});

test('Kafka: SSL and SASL_SSL with the right CA connect; another CA is refused', async () => {
  const client = (brokers: string, caFile: string, sasl: boolean) =>
    createKafka(
      {
      brokers: [brokers],
      clientId: 'tls-test',
      ssl: { enabled: true, caFile, rejectUnauthorized: true },
      sasl: sasl ? { mechanism: 'scram-sha-512', username: user.name, password: user.password } : undefined,
      },
      undefined,
      { retries: 0 }, // a refused certificate is retried like any connection error: ask once
    );
  for (const [brokers, sasl] of [[k.sslBrokers!, false], [k.saslSslBrokers!, true]] as const) {
    const ok = client(brokers, pki.caFile, sasl).admin();
    await ok.connect();
    assert.ok(Array.isArray(await ok.listTopics()), `${brokers} with the right CA`);
    await ok.disconnect();
    const wrong = client(brokers, pki.otherCaFile, sasl).admin({ retry: { retries: 0 } });
    await assert.rejects(wrong.connect(), CERT_REFUSED, `${brokers} with another CA is refused`);
    await wrong.disconnect().catch(() => {});
  }
});

test('the worker ingests over SASL_SSL from Kafka into PostgreSQL over verified TLS, every connection encrypted', async () => {
  const pool = createPool(dbConfig(pgs.url, 'verify-full', pki.caFile), 'orchestry-tls-test');
  try {
    await migrate(pool);
    const id = randomBytes(4).toString('hex');
    const topics = { stats: `t-${id}.stats`, lifecycle: `t-${id}.lifecycle`, dlq: `t-${id}.dlq`, group: `g-${id}` };
    await ensureTopics([k.brokers], [{ name: topics.stats, partitions: 2 }, { name: topics.lifecycle, partitions: 1 }, { name: topics.dlq, partitions: 1 }]);
    const w = await startWorker(pgs.url, topics, 'tls', {
      DATABASE_SSL: 'verify-full',
      DATABASE_SSL_CA_FILE: pki.caFile,
      KAFKA_BROKERS: k.saslSslBrokers!,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: pki.caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: user.name,
      KAFKA_SASL_PASSWORD: user.password,
      SCHEDULER_ENABLED: 'false',
    });
    workers.push(w);
    await whenReady(w);
    // The test produces through the broker's plaintext listener.
    const ts = Date.now();
    await produce(topics.lifecycle, [{ key: 'tls-app', value: registered('tls-app', ts) }], CompressionTypes.None, [k.brokers]);
    await produce(
      topics.stats,
      [
        { key: 'c1', value: stats('tls-app', 'c1', ts, { rps: 40 }) }, // cpu, memory and rps: 3 rows
        { key: 'c2', value: stats('tls-app', 'c2', ts) }, // cpu and memory: 2 rows
      ],
      CompressionTypes.None,
      [k.brokers],
    );
    await waitUntil('the TLS worker stored the samples', async () => (await pool.query(`SELECT 1 FROM metrics WHERE app_name = 'tls-app'`)).rowCount === 5, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${w.output().slice(-3000)}`);
    });
    await waitUntil('the TLS worker registered the app', async () => (await pool.query(`SELECT 1 FROM applications WHERE name = 'tls-app' AND spec_updated_at IS NOT NULL`)).rowCount === 1);
    const { rows: conns } = await pool.query<{ ssl: boolean; n: number }>(
      `SELECT s.ssl, count(*)::int AS n FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
        WHERE a.application_name = 'orchestry-ingest' GROUP BY s.ssl`,
    );
    assert.deepEqual(conns.map((c) => c.ssl), [true], `the worker's connections: ${JSON.stringify(conns)}`);
    await stopAll([w]);
  } finally {
    await pool.end();
  }
});
