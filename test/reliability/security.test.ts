// Security (issue 7): no secret in any log line or on /metrics of a real worker process, and Kafka
// SASL/SCRAM against a real broker with a SASL_PLAINTEXT listener (its own, under a temporary root).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CompressionTypes, createKafka } from '../../src/kafka/client.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { repoRoot } from '../../tools/stack/index.ts';
import { startSaslKafka, stopSaslKafka } from '../support/kafka-sasl.ts';
import { adminQuery, freshDatabase, urlFor, type TestDatabase } from '../helpers/db.ts';
import { produce, testTopics } from '../helpers/kafka.ts';
import { tempRoot } from '../helpers/stack.ts';
import { repo, waitUntil } from '../helpers/worker.ts';
import { drained, sleep, startWorker, stopAll, whenReady, type Worker } from '../faults/harness.ts';

const cleanups: (() => Promise<void>)[] = [];
const workers: Worker[] = [];
after(async () => {
  await stopAll(workers, 5000);
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Every form a secret could leak in: as is, URL-encoded, JSON-escaped, base64. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')])];
}

function assertNoSecret(text: string, secrets: string[], where: string): void {
  for (const s of secrets) for (const f of forms(s)) assert.ok(!text.includes(f), `${where} contains a secret (${f.slice(0, 3)}…)`);
}

test('no secret (database password, admin token) in any log line or on /metrics of a real worker process', async () => {
  const db: TestDatabase = await freshDatabase();
  cleanups.push(() => db.drop());
  const role = `sec_${randomBytes(4).toString('hex')}`;
  const password = `p@ss/w0rd:${randomBytes(6).toString('hex')}`;
  const token = `admin-${randomBytes(16).toString('hex')}`;
  await adminQuery(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`);
  cleanups.push(async () => void (await adminQuery(`DROP ROLE IF EXISTS ${role}`)));
  const u = new URL(urlFor(db.name));
  u.username = role;
  u.password = encodeURIComponent(password);
  const url = u.toString();
  assert.ok(url.includes(encodeURIComponent(password)));

  const topics = await testTopics(1);
  const env = { ADMIN_TOKEN: token, SCHEDULER_ENABLED: 'true', LOG_LEVEL: 'trace', ARCHIVE_DIR: join(repo, '.archive-test-sec') };
  cleanups.push(() => rm(env.ARCHIVE_DIR, { recursive: true, force: true }));
  const w = await startWorker(url, topics, 'secrets', env);
  workers.push(w);
  await whenReady(w);
  // Work and failures that log: good and bad messages, admin calls with right, wrong and no token.
  await produce(topics.stats, [
    { key: 'c', value: { v: 1, app: 'sec-app', container_id: 'c', ts: Date.now(), cpu_percent: 1, labels: { note: 'fine' } } },
    { key: 'c', value: '{"v":1,' },
    { key: 'c', value: { v: 1, app: 'sec-app', container_id: 'c', ts: Date.now(), cpu_percent: -5 } },
  ]);
  await drained(db.pool, topics, 60_000);
  const base = `http://127.0.0.1:${w.port}`;
  const bodies: string[] = [];
  for (const [path, init] of [
    ['/metrics', {}],
    ['/readyz', {}],
    ['/healthz', {}],
    ['/admin/jobs', {}],
    ['/admin/jobs', { headers: { authorization: `Bearer ${token.slice(0, -1)}x` } }],
    ['/admin/jobs', { headers: { authorization: `Bearer ${token}` } }],
    ['/admin/jobs/partitions', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' }],
    ['/admin/jobs/partitions', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"bad":1}' }],
  ] as [string, RequestInit][]) {
    const res = await fetch(base + path, init);
    bodies.push(`${path} ${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
  }
  await sleep(2000);
  const metrics = bodies[0]!;
  assert.match(metrics, /orchestry_ingest/);
  await stopAll([w]);
  assertNoSecret(w.output(), [password, token], 'the worker log');
  assertNoSecret(bodies.join('\n'), [password, token], 'an HTTP response');
  assert.ok(w.output().length > 1000, 'the worker logged (at trace level)');

  // The CLI: `config` prints the configuration, and a bad configuration prints every bad variable.
  const cli = (args: string[], extra: Record<string, string>) =>
    spawnSync(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, DATABASE_URL: url, ADMIN_TOKEN: token, ...extra } });
  const shown = cli(['config'], {});
  assert.equal(shown.status, 0, shown.stderr);
  assertNoSecret(shown.stdout + shown.stderr, [password, token], '`config` output');
  const bad = cli(['run'], { BATCH_MAX_MESSAGES: 'lots', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'sasl-Secret-42xyz', ADMIN_TOKEN: 'short' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr + bad.stdout, /BATCH_MAX_MESSAGES/);
  assertNoSecret(bad.stdout + bad.stderr, [password, 'sasl-Secret-42xyz', 'short'], 'a configuration error');
});

test('SASL/SCRAM-SHA-512 against a real broker: the worker authenticates and ingests; a wrong password is refused', async () => {
  const root = await tempRoot();
  const user = { name: 'orchestry', password: `scram-${randomBytes(8).toString('hex')}` };
  const log = (l: string) => (process.env.TEST_LOG_LEVEL ? process.stderr.write(`${l}\n`) : undefined);
  cleanups.push(async () => {
    await stopSaslKafka(root, undefined, log); // the broker's pid is recorded under root
    await rm(root, { recursive: true, force: true });
  });
  const k = await startSaslKafka(repoRoot(), root, [user], log);
  const client = (mechanism: 'scram-sha-512' | 'scram-sha-256' | 'plain', password: string) =>
    createKafka({
      brokers: [k.saslBrokers],
      clientId: 'sasl-test',
      ssl: { enabled: false, caFile: undefined, rejectUnauthorized: true },
      sasl: { mechanism, username: user.name, password },
    });
  for (const mechanism of ['scram-sha-512', 'scram-sha-256', 'plain'] as const) {
    const ok = client(mechanism, user.password).admin();
    await ok.connect();
    assert.ok(Array.isArray(await ok.listTopics()), `${mechanism} with the right password`);
    await ok.disconnect();
    const wrong = client(mechanism, `${user.password}-wrong`).admin({ retry: { retries: 0 } });
    await assert.rejects(wrong.connect(), (err: Error) => /SASL|auth/i.test(`${err.name} ${err.message}`), `${mechanism} with a wrong password is refused`);
    await wrong.disconnect().catch(() => {});
  }

  // The worker itself, configured by environment, over SCRAM-SHA-512.
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `s-${id}.stats`, lifecycle: `s-${id}.lifecycle`, dlq: `s-${id}.dlq`, group: `g-${id}` };
  await ensureTopics([k.brokers], [{ name: topics.stats, partitions: 1 }, { name: topics.lifecycle, partitions: 1 }, { name: topics.dlq, partitions: 1 }]);
  const w = await startWorker(db.url, topics, 'sasl', {
    KAFKA_BROKERS: k.saslBrokers,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: user.name,
    KAFKA_SASL_PASSWORD: user.password,
    LOG_LEVEL: 'debug',
  });
  workers.push(w);
  await whenReady(w);
  // The test produces through the broker's plaintext listener.
  await produce(topics.stats, [{ key: 'c', value: { v: 1, app: 'sasl-app', container_id: 'c', ts: Date.now(), cpu_percent: 3, rps: 4 } }], CompressionTypes.None, [k.brokers]);
  await waitUntil('the SASL worker stored the sample', async () => (await db.pool.query(`SELECT 1 FROM metrics WHERE app_name = 'sasl-app'`)).rowCount === 2, 60_000);
  await stopAll([w]);
  assertNoSecret(w.output(), [user.password], 'the SASL worker log');

  // The worker with a wrong password does not become ready, and does not print the password.
  const bad = await startWorker(db.url, topics, 'sasl-wrong', {
    KAFKA_BROKERS: k.saslBrokers,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: user.name,
    KAFKA_SASL_PASSWORD: `${user.password}-wrong`,
  });
  workers.push(bad);
  await waitUntil('an authentication failure reported', () => /SASL|authenticat/i.test(bad.output()) || bad.child.exitCode !== null, 60_000);
  await stopAll([bad], 5000);
  assertNoSecret(bad.output(), [user.password], 'the wrong-password worker log');
});
