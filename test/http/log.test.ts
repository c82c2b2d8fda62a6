// The logger of src/log.ts: what reaches a log line, captured through the `destination` option.
import assert from 'node:assert/strict';
import { capture } from '../helpers/capture.ts';
import { parseStrictJson } from '../helpers/strict-json.ts';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { IngestError } from '../../src/errors.ts';
import { createLogger, secretsOf } from '../../src/log.ts';

const DB_PASSWORD = 'pg-Secret-Pass-4711';
const REPLICA_PASSWORD = 'replica-Secret-0815';
const ADMIN_TOKEN = 'admin-token-7f3a9c2e5b1d4f60';
const SASL_PASSWORD = 'sasl-Secret-Pass-2024';
const SECRETS = [DB_PASSWORD, REPLICA_PASSWORD, ADMIN_TOKEN, SASL_PASSWORD];

const env = {
  DATABASE_URL: `postgres://ingest:${DB_PASSWORD}@db.internal:5432/orchestry`,
  DATABASE_REPLICA_URL: `postgresql://reader:${REPLICA_PASSWORD}@replica.internal/orchestry`,
  ADMIN_TOKEN,
  KAFKA_BROKERS: 'kafka-1:9092,kafka-2:9092',
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'ingest',
  KAFKA_SASL_PASSWORD: SASL_PASSWORD,
};

function assertNoSecret(text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a secret leaked into the log: ${s}\n${text}`);
}

function lines(text: string): Record<string, unknown>[] {
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a logged configuration, environment and connection error carry none of the secrets, even without the secrets list', () => {
  const config = loadConfig(env);
  const out = capture();
  const log = createLogger({ level: 'debug', destination: out.stream });
  const dsnError = new Error(`connect ECONNREFUSED for ${env.DATABASE_URL}`);
  const wrapped = new IngestError('E_DB_UNAVAILABLE', `PostgreSQL at ${env.DATABASE_REPLICA_URL} is unavailable`, true, { cause: dsnError });

  log.info({ config }, 'starting');
  log.info({ env }, 'environment');
  log.error({ err: dsnError }, 'database unreachable');
  log.error(dsnError);
  log.error({ err: wrapped });
  log.warn({ attempt: 2, error: wrapped }, 'retrying');
  log.info(`connecting to ${env.DATABASE_URL}`);
  log.info('connecting to %s', env.DATABASE_REPLICA_URL);
  log.child({ job: 'archive', dsn: env.DATABASE_URL }).info({ req: { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } } }, 'request');
  log.info({ sasl: config.kafka.sasl, connectionParameters: { user: 'ingest', password: DB_PASSWORD } }, 'kafka and pg options');

  const text = out.text();
  assertNoSecret(text);
  const parsed = lines(text);
  assert.equal(parsed.length, 10, 'every call wrote one JSON line');
  // What is kept stays useful: the user, host and database of a URL; error codes and messages.
  assert.match(text, /postgres:\/\/ingest:\*\*\*\*@db\.internal:5432\/orchestry/);
  assert.match(text, /postgresql:\/\/reader:\*\*\*\*@replica\.internal\/orchestry/);
  assert.equal((parsed[0]?.config as { http: { adminToken: string } }).http.adminToken, '****');
  assert.equal((parsed[3]?.msg as string).startsWith('connect ECONNREFUSED for postgres://ingest:****@'), true);
  assert.equal((parsed[4]?.err as { code: string }).code, 'E_DB_UNAVAILABLE');
  assert.equal((parsed[8] as { job: string }).job, 'archive');
});

test('with the secrets list of the configuration, a secret quoted in free text is masked too', () => {
  const config = loadConfig(env);
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.stream, secrets: secretsOf(config) });
  log.warn(`kafka refused SASL user ingest with password ${SASL_PASSWORD}`);
  log.warn({ header: `Bearer ${ADMIN_TOKEN}`, quoted: JSON.stringify({ p: DB_PASSWORD }) }, 'bad request');
  log.error({ err: new Error(`password authentication failed: "${REPLICA_PASSWORD}" rejected`) }, 'replica');
  log.info({ encoded: encodeURIComponent(`${SASL_PASSWORD}/x`) }, 'encoded');
  assertNoSecret(out.text());
  assert.match(out.text(), /with password \*\*\*\*/);
});

test('a logged object is not changed by the redaction, and cycles do not break logging', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.stream });
  const obj: Record<string, unknown> = { password: DB_PASSWORD, nested: { token: ADMIN_TOKEN } };
  obj.self = obj;
  log.info({ obj }, 'cyclic');
  assert.equal(obj.password, DB_PASSWORD);
  assert.equal((obj.nested as { token: string }).token, ADMIN_TOKEN);
  assertNoSecret(out.text());
  assert.match(out.text(), /\[Circular\]/);
});

test('the level is honoured and lines carry the scope of child loggers', () => {
  const out = capture();
  const log = createLogger({ level: 'warn', destination: out.stream });
  const scoped = log.child({ topic: 'orchestry.container.stats', partition: 3 });
  scoped.info({ offsets: '10-20' }, 'hidden');
  scoped.warn({ offsets: '10-20' }, 'shown');
  const parsed = lines(out.text());
  assert.equal(parsed.length, 1);
  assert.deepEqual(
    { level: parsed[0]?.level, topic: parsed[0]?.topic, partition: parsed[0]?.partition, offsets: parsed[0]?.offsets, msg: parsed[0]?.msg },
    { level: 'warn', topic: 'orchestry.container.stats', partition: 3, offsets: '10-20', msg: 'shown' },
  );
});

test('a key bound twice (child of a child, or the call repeating a binding) appears once, the innermost value winning', () => {
  const out = capture();
  const log = createLogger({ level: 'info', destination: out.stream });
  const http = log.child({ component: 'http' }).child({ component: 'http', reqId: 'r1' });
  http.info('request completed');
  http.info({ component: 'http-admin', reqId: 'r2' }, 'admin');
  const text = out.text().trim().split('\n');
  assert.equal(text.length, 2);
  const first = parseStrictJson(text[0]!) as Record<string, unknown>;
  const second = parseStrictJson(text[1]!) as Record<string, unknown>;
  assert.deepEqual([first.component, first.reqId, first.msg], ['http', 'r1', 'request completed']);
  assert.deepEqual([second.component, second.reqId], ['http-admin', 'r2']);
});

test('the strict parser used on log lines refuses a repeated key at any depth and accepts repeats across objects', () => {
  assert.throws(() => parseStrictJson('{"component":"http","component":"http"}'), /duplicate key "component"/);
  assert.throws(() => parseStrictJson('{"a":{"b":1,"c":[{"d":"}\\"","d":2}]}}'), /duplicate key "d"/);
  assert.deepEqual(parseStrictJson('{"a":{"k":1},"b":{"k":2},"c":[{"k":"x,\\"k\\""},{"k":4}]}'), { a: { k: 1 }, b: { k: 2 }, c: [{ k: 'x,"k"' }, { k: 4 }] });
});
