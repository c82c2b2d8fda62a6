// Configuration: one zod schema read from the environment; a bad value stops start-up with one
// message naming every bad variable (exit code 2 from the CLI); secrets never printed.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { ConfigError, describeConfig, envSchema, loadConfig } from '../src/config.ts';
import { mask, maskUrl } from '../src/mask.ts';
import { runCliClean as runCli } from './helpers/cli.ts';

/** Every variable's default as `orchestry-ingest config` prints it ('(unset)' = optional, no default). */
const DEFAULTS: Record<string, string> = {
  KAFKA_BROKERS: '(unset)',
  KAFKA_CLIENT_ID: 'orchestry-ingest',
  KAFKA_GROUP_ID: 'orchestry-ingest',
  KAFKA_TOPIC_STATS: 'orchestry.container.stats',
  KAFKA_TOPIC_LIFECYCLE: 'orchestry.container.lifecycle',
  KAFKA_TOPIC_DLQ: 'orchestry.ingest.dlq',
  KAFKA_SSL: 'false',
  KAFKA_SSL_CA_FILE: '(unset)',
  KAFKA_SSL_REJECT_UNAUTHORIZED: 'true',
  KAFKA_SASL_MECHANISM: '(unset)',
  KAFKA_SASL_USERNAME: '(unset)',
  KAFKA_SASL_PASSWORD: '(unset)',
  KAFKA_SESSION_TIMEOUT_MS: '30000',
  DATABASE_URL: '(unset)',
  DATABASE_REPLICA_URL: '(unset)',
  DATABASE_POOL_MAX: '10',
  DATABASE_SSL: 'disable',
  DATABASE_SSL_CA_FILE: '(unset)',
  DATABASE_STATEMENT_TIMEOUT_MS: '60000',
  HTTP_PORT: '9464',
  HTTP_HOST: '0.0.0.0',
  ADMIN_TOKEN: '(unset)',
  ARCHIVE_DIR: './archive',
  ARCHIVE_URL: '(unset)',
  ARCHIVE_FORMAT: 'parquet',
  S3_ENDPOINT: '(unset)',
  S3_REGION: 'us-east-1',
  S3_ACCESS_KEY_ID: '(unset)',
  S3_SECRET_ACCESS_KEY: '(unset)',
  S3_FORCE_PATH_STYLE: 'false',
  LOG_LEVEL: 'info',
  LOG_PRETTY: '(unset)',
  WORKER_ID: `${hostname()}-${process.pid}`,
  BATCH_MAX_MESSAGES: '2500',
  BATCH_MAX_BYTES: String(2 * 1024 * 1024),
  BATCH_MAX_WAIT_MS: '50',
  KAFKA_FETCH_MIN_BYTES: '1',
  PARTITIONS_CONCURRENCY: '2',
  MESSAGE_MAX_BYTES: String(1024 * 1024),
  KAFKA_DECOMPRESSED_BATCH_MAX_BYTES: String(32 * 1024 * 1024),
  DLQ_VALUE_MAX_BYTES: '1000000',
  PLACEHOLDER_APPS_MAX: '1000',
  PLACEHOLDER_APPS_TTL_HOURS: '24',
  TIMESTAMP_MAX_FUTURE_SKEW_MS: '300000',
  DB_RETRY_MAX_BACKOFF_MS: '30000',
  INGEST_SYNCHRONOUS_COMMIT: 'off',
  SHUTDOWN_TIMEOUT_MS: '30000',
  LAG_REFRESH_INTERVAL_MS: '15000',
  RETENTION_EVENTS_DAYS: '30',
  RETENTION_METRICS_INSTANCE_DAYS: '7',
  RETENTION_METRICS_APP_DAYS: '30',
  RETENTION_STOPPED_INSTANCES_DAYS: '7',
  RETENTION_JOB_RUNS_DAYS: '30',
  RETENTION_DEAD_LETTERS_DAYS: '30',
  ARCHIVE_BEFORE_DROP: 'false',
  PARTITIONS_AHEAD_DAYS: '3',
  ROLLUP_GRACE_MINUTES: '0',
  ROLLUP_MIRROR_APP_METRICS: 'false',
  ROLLUP_WORK_MEM_MB: '64',
  SCHEDULER_ENABLED: 'true',
  SCHEDULE_PARTITIONS: '*/15 * * * *',
  SCHEDULE_ROLLUPS: '20 * * * * *',
  SCHEDULE_RETENTION: '0 2 * * *',
  SCHEDULE_ARCHIVE: '30 2 * * *',
  SCHEDULE_COMPRESS_EVENTS: '0 1 * * *',
};

/** One bad value per variable that can have one, and what the message must say about it. */
const BAD: [variable: string, value: string, reason: RegExp][] = [
  ['KAFKA_BROKERS', 'localhost', /host:port/],
  ['KAFKA_BROKERS', 'a:9092,b', /host:port/],
  ['KAFKA_TOPIC_STATS', 'has space', /topic name/],
  ['KAFKA_TOPIC_LIFECYCLE', 'slash/name', /topic name/],
  ['KAFKA_TOPIC_DLQ', 'x'.repeat(250), /topic name/],
  ['KAFKA_SSL', 'maybe', /expected one of/],
  ['KAFKA_SSL_REJECT_UNAUTHORIZED', 'TRUE!', /expected one of/],
  ['KAFKA_SASL_MECHANISM', 'gssapi', /expected one of/],
  ['KAFKA_SESSION_TIMEOUT_MS', '1000', />=6000/],
  ['DATABASE_URL', 'mysql://u@h/db', /postgres:\/\//],
  ['DATABASE_REPLICA_URL', 'localhost:5432', /postgres:\/\//],
  ['DATABASE_POOL_MAX', '1', />=2/],
  ['DATABASE_SSL', 'on', /expected one of/],
  ['DATABASE_STATEMENT_TIMEOUT_MS', '-1', />=0/],
  ['HTTP_PORT', '65536', /<=65535/],
  ['HTTP_PORT', 'http', /expected number/],
  ['ADMIN_TOKEN', 'short', /at least 16 characters/],
  ['ARCHIVE_URL', 'ftp://host/x', /s3:\/\/bucket/],
  ['ARCHIVE_URL', 's3://', /s3:\/\/bucket/],
  ['ARCHIVE_FORMAT', 'csv', /expected one of/],
  ['S3_ENDPOINT', 'localhost:9000', /http:\/\//],
  ['S3_FORCE_PATH_STYLE', 'maybe', /expected one of/],
  ['LOG_LEVEL', 'verbose', /expected one of/],
  ['LOG_PRETTY', 'sure', /expected one of/],
  ['BATCH_MAX_MESSAGES', '0', />=1/],
  ['BATCH_MAX_BYTES', '1.5', /expected int/],
  ['BATCH_MAX_WAIT_MS', '60001', /<=60000/],
  ['KAFKA_FETCH_MIN_BYTES', '0', />=1/],
  ['PARTITIONS_CONCURRENCY', '65', /<=64/],
  ['MESSAGE_MAX_BYTES', '100', />=1024/],
  ['KAFKA_DECOMPRESSED_BATCH_MAX_BYTES', '1000', />=65536/],
  ['DLQ_VALUE_MAX_BYTES', 'big', /expected number/],
  ['PLACEHOLDER_APPS_MAX', '-1', />=0/],
  ['PLACEHOLDER_APPS_TTL_HOURS', '0', />=1/],
  ['TIMESTAMP_MAX_FUTURE_SKEW_MS', '-5', />=0/],
  ['DB_RETRY_MAX_BACKOFF_MS', '10', />=100/],
  ['INGEST_SYNCHRONOUS_COMMIT', 'false', /expected one of/],
  ['SHUTDOWN_TIMEOUT_MS', '999', />=1000/],
  ['LAG_REFRESH_INTERVAL_MS', '50', />=100/],
  ['RETENTION_EVENTS_DAYS', '0', />=1/],
  ['RETENTION_METRICS_INSTANCE_DAYS', 'seven', /expected number/],
  ['RETENTION_METRICS_APP_DAYS', '3651', /<=3650/],
  ['RETENTION_STOPPED_INSTANCES_DAYS', '0', />=1/],
  ['RETENTION_JOB_RUNS_DAYS', '0', />=1/],
  ['RETENTION_DEAD_LETTERS_DAYS', '1.5', /expected int/],
  ['ARCHIVE_BEFORE_DROP', 'perhaps', /expected one of/],
  ['PARTITIONS_AHEAD_DAYS', '91', /<=90/],
  ['ROLLUP_GRACE_MINUTES', '-1', />=0/],
  ['ROLLUP_WORK_MEM_MB', '4096', /<=2048/],
  ['ROLLUP_MIRROR_APP_METRICS', 'sometimes', /expected one of/],
  ['SCHEDULER_ENABLED', 'on', /expected one of/],
  ['SCHEDULE_PARTITIONS', 'hourly', /cron expression/],
  ['SCHEDULE_ROLLUPS', '* * * *', /cron expression/],
  ['SCHEDULE_RETENTION', '0 2 * * * * *', /cron expression/],
  ['SCHEDULE_ARCHIVE', '@daily', /cron expression/],
  ['SCHEDULE_COMPRESS_EVENTS', '0 1 * *', /cron expression/],
];

/** Free-form strings: any non-empty value is valid (an empty one counts as unset). */
const FREE_FORM = ['KAFKA_CLIENT_ID', 'KAFKA_GROUP_ID', 'KAFKA_SSL_CA_FILE', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'DATABASE_SSL_CA_FILE', 'HTTP_HOST', 'ARCHIVE_DIR', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'WORKER_ID'];

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'E_CONFIG');
    return err;
  }
  assert.fail('expected the configuration to be rejected');
}

test('every variable of the schema has a documented default and is covered by a bad-value case or is free-form', () => {
  const keys = Object.keys(envSchema.shape).sort();
  assert.deepEqual(Object.keys(DEFAULTS).sort(), keys);
  const covered = new Set([...BAD.map(([v]) => v), ...FREE_FORM]);
  assert.deepEqual(keys.filter((k) => !covered.has(k)), []);
});

test('an empty environment gives the documented defaults', () => {
  assert.deepEqual(describeConfig({}), DEFAULTS);
  const c = loadConfig({});
  assert.equal(c.kafka.brokers, undefined);
  assert.equal(c.db.url, undefined);
  assert.deepEqual(c.kafka.topics, { stats: 'orchestry.container.stats', lifecycle: 'orchestry.container.lifecycle', dlq: 'orchestry.ingest.dlq' });
  assert.deepEqual(c.kafka.ssl, { enabled: false, caFile: undefined, rejectUnauthorized: true });
  assert.equal(c.kafka.sasl, undefined);
  assert.deepEqual(c.http, { port: 9464, host: '0.0.0.0', adminToken: undefined });
  assert.deepEqual(c.batch, { maxMessages: 2500, maxBytes: 2097152, maxWaitMs: 50, fetchMinBytes: 1, partitionsConcurrency: 2, messageMaxBytes: 1048576, decompressedMaxBytes: 33554432, dlqValueMaxBytes: 1000000 });
  assert.deepEqual(c.placeholderApps, { max: 1000, ttlHours: 24 });
  assert.deepEqual(c.retention, { eventsDays: 30, metricsInstanceDays: 7, metricsAppDays: 30, stoppedInstancesDays: 7, jobRunsDays: 30, deadLettersDays: 30, archiveBeforeDrop: false });
  assert.equal(c.partitionsAheadDays, 3);
  assert.equal(c.ingestSynchronousCommit, 'off');
  assert.equal(c.scheduler.enabled, true);
  assert.equal(c.scheduler.schedules.partitions, '*/15 * * * *');
  assert.equal(c.log.level, 'info');
});

test('empty strings count as unset and values are parsed into their types', () => {
  const c = loadConfig({
    HTTP_PORT: '',
    LOG_LEVEL: '',
    KAFKA_BROKERS: ' k1:9092, k2:9093 ,',
    KAFKA_SSL: 'yes',
    SCHEDULER_ENABLED: '0',
    ARCHIVE_BEFORE_DROP: '1',
    BATCH_MAX_MESSAGES: '250',
    DATABASE_URL: 'postgresql://u:p@db:5432/orchestry',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'ingest',
    KAFKA_SASL_PASSWORD: 'pw',
  });
  assert.equal(c.http.port, 9464);
  assert.equal(c.log.level, 'info');
  assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9093']);
  assert.equal(c.kafka.ssl.enabled, true);
  assert.equal(c.scheduler.enabled, false);
  assert.equal(c.retention.archiveBeforeDrop, true);
  assert.equal(c.batch.maxMessages, 250);
  assert.equal(c.db.url, 'postgresql://u:p@db:5432/orchestry');
  assert.deepEqual(c.kafka.sasl, { mechanism: 'scram-sha-512', username: 'ingest', password: 'pw' });
});

for (const [variable, value, reason] of BAD) {
  test(`${variable}=${JSON.stringify(value.length > 20 ? `${value.slice(0, 12)}…` : value)} is rejected with the variable named and why`, () => {
    // The SASL variables go together: give the other two, so only the bad one is named.
    const sasl = variable.startsWith('KAFKA_SASL_') ? { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' } : {};
    const err = configError(() => loadConfig({ ...sasl, [variable]: value }));
    assert.deepEqual(err.problems.map((p) => p.variable), [variable]);
    assert.match(err.problems[0]!.reason, reason);
    assert.match(err.message, new RegExp(`^\\s+${variable}: `, 'm'));
  });
}

test('several bad variables at once are all named, each once, in one message', () => {
  const env = { HTTP_PORT: '99999', KAFKA_BROKERS: 'nope', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short', BATCH_MAX_WAIT_MS: 'soon' };
  const err = configError(() => loadConfig(env));
  assert.deepEqual(err.problems.map((p) => p.variable).sort(), Object.keys(env).sort());
  const lines = err.message.split('\n');
  assert.equal(lines[0], 'invalid configuration:');
  assert.equal(lines.length, 1 + Object.keys(env).length);
  for (const v of Object.keys(env)) assert.equal(lines.filter((l) => l.trimStart().startsWith(`${v}:`)).length, 1, v);
});

test('a partial SASL setting names each missing KAFKA_SASL_* variable', () => {
  const err = configError(() => loadConfig({ KAFKA_SASL_USERNAME: 'ingest' }));
  assert.deepEqual(err.problems.map((p) => p.variable), ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_PASSWORD']);
  assert.match(err.message, /must be set when any KAFKA_SASL_\* variable is set/);
});

test(
  'a partial SASL setting is named even when another variable is bad too',
  () => {
    const err = configError(() => loadConfig({ HTTP_PORT: '99999', KAFKA_SASL_USERNAME: 'ingest' }));
    assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['HTTP_PORT', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_PASSWORD']);
  },
);

test('an error message never repeats a secret value', () => {
  const err = configError(() =>
    loadConfig({ ADMIN_TOKEN: 'tooshort-s3cret', DATABASE_URL: 'postgres://u:hunter2@', DATABASE_REPLICA_URL: 'mysql://r:pa55word@replica/db' }),
  );
  assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['ADMIN_TOKEN', 'DATABASE_REPLICA_URL', 'DATABASE_URL']);
  for (const secret of ['tooshort-s3cret', 'hunter2', 'pa55word']) assert.ok(!err.message.includes(secret), `${secret} leaked: ${err.message}`);
  assert.match(err.message, /ADMIN_TOKEN: .*"\*\*\*\*"/);
});

test('describeConfig masks the admin token, the SASL password and the passwords inside database URLs', () => {
  const out = describeConfig({
    ADMIN_TOKEN: '0123456789abcdef-secret',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'ingest',
    KAFKA_SASL_PASSWORD: 'kafka-secret',
    DATABASE_URL: 'postgres://orchestry:db-secret@db:5432/orchestry',
    DATABASE_REPLICA_URL: 'postgresql://reader:replica-secret@replica/orchestry?sslmode=require',
    KAFKA_BROKERS: 'k1:9092',
  });
  assert.equal(out.ADMIN_TOKEN, '****');
  assert.equal(out.KAFKA_SASL_PASSWORD, '****');
  assert.equal(out.KAFKA_SASL_USERNAME, 'ingest');
  assert.equal(out.DATABASE_URL, 'postgres://orchestry:****@db:5432/orchestry');
  assert.equal(out.DATABASE_REPLICA_URL, 'postgresql://reader:****@replica/orchestry?sslmode=require');
  assert.equal(out.KAFKA_BROKERS, 'k1:9092');
  const all = JSON.stringify(out);
  assert.ok(!all.includes('secret'), all);
});

test('maskUrl hides the password of every URL in a string and leaves the rest alone', () => {
  assert.equal(maskUrl('postgres://u:pw@h:5432/db'), 'postgres://u:****@h:5432/db');
  assert.equal(maskUrl('postgresql://u:p%40ss@h/db'), 'postgresql://u:****@h/db');
  assert.equal(maskUrl('postgres://u:@h/db'), 'postgres://u:****@h/db');
  assert.equal(maskUrl('from postgres://a:b@c/d to postgres://e:f@g/h'), 'from postgres://a:****@c/d to postgres://e:****@g/h');
  assert.equal(maskUrl('postgres://u@h/db'), 'postgres://u@h/db');
  assert.equal(maskUrl('postgres://h:5432/db'), 'postgres://h:5432/db');
  assert.equal(maskUrl('k1:9092,k2:9093'), 'k1:9092,k2:9093');
  assert.equal(mask('ADMIN_TOKEN', 'anything'), '****');
  assert.equal(mask('KAFKA_SASL_PASSWORD', 'anything'), '****');
  assert.equal(mask('LOG_LEVEL', 'debug'), 'debug');
});

test(
  'maskUrl hides a password that contains a raw @ or sits in the query string',
  () => {
    assert.equal(maskUrl('postgres://u:p@ss@h/db'), 'postgres://u:****@h/db');
    assert.ok(!maskUrl('postgres://u@h/db?password=secret').includes('secret'));
  },
);

test('orchestry-ingest config exits 2 and names every bad variable on stderr', { timeout: 90_000 }, async () => {
  const bad = { HTTP_PORT: '99999', KAFKA_BROKERS: 'nope', DATABASE_URL: 'mysql://u:hunter2@x/db', LOG_LEVEL: 'loud', ADMIN_TOKEN: 'short' };
  const r = await runCli(['config'], bad);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^orchestry-ingest: invalid configuration:/);
  for (const v of Object.keys(bad)) assert.match(r.stderr, new RegExp(`^\\s+${v}: `, 'm'), `${v} named in: ${r.stderr}`);
  assert.ok(!r.stderr.includes('hunter2'));
});

test('orchestry-ingest config prints every variable with secrets masked and exits 0', { timeout: 90_000 }, async () => {
  const r = await runCli(['config'], {
    DATABASE_URL: 'postgres://orchestry:db-secret@db:5432/orchestry',
    ADMIN_TOKEN: 'admin-secret-0123456789',
    HTTP_PORT: '9999',
  });
  assert.equal(r.code, 0, r.stderr);
  const printed = Object.fromEntries(
    r.stdout.trimEnd().split('\n').map((line) => {
      const m = /^(\S+)\s+(.*)$/.exec(line);
      return [m?.[1], m?.[2]];
    }),
  );
  assert.deepEqual(Object.keys(printed), Object.keys(envSchema.shape));
  assert.equal(printed.DATABASE_URL, 'postgres://orchestry:****@db:5432/orchestry');
  assert.equal(printed.ADMIN_TOKEN, '****');
  assert.equal(printed.HTTP_PORT, '9999');
  assert.equal(printed.KAFKA_TOPIC_STATS, 'orchestry.container.stats');
  assert.ok(!r.stdout.includes('secret'));
});

test('the archive destination defaults to ARCHIVE_DIR as a file:// URL; the S3 secret is masked and the key pair goes together', () => {
  assert.equal(loadConfig({}).archive.url, 'file://./archive');
  assert.equal(loadConfig({ ARCHIVE_DIR: '/data/arch' }).archive.url, 'file:///data/arch');
  assert.equal(loadConfig({ ARCHIVE_URL: 's3://bucket/prefix', ARCHIVE_DIR: '/ignored' }).archive.url, 's3://bucket/prefix');
  const out = describeConfig({ S3_ACCESS_KEY_ID: 'AKIDEXAMPLE', S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-s3-secret' });
  assert.equal(out.S3_SECRET_ACCESS_KEY, '****');
  assert.equal(out.S3_ACCESS_KEY_ID, 'AKIDEXAMPLE');
  const err = configError(() => loadConfig({ S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-s3-secret' }));
  assert.deepEqual(err.problems.map((p) => p.variable), ['S3_ACCESS_KEY_ID']);
  assert.ok(!err.message.includes('wJalrXUtnFEMI'), err.message);
});

test('require: a required variable that is not set is named, with the others that are bad, in one error', () => {
  const err = configError(() => loadConfig({ HTTP_PORT: '99999' }, { require: ['KAFKA_BROKERS', 'DATABASE_URL'] }));
  assert.deepEqual(err.problems.map((p) => p.variable).sort(), ['DATABASE_URL', 'HTTP_PORT', 'KAFKA_BROKERS']);
  assert.match(err.message, /^\s+KAFKA_BROKERS: is required for this command/m);
  assert.match(err.message, /^\s+DATABASE_URL: is required for this command/m);
  assert.equal(err.message.split('\n').length, 4);
});

test('require: a required variable that is set but bad is named once, for its value', () => {
  const err = configError(() => loadConfig({ DATABASE_URL: 'mysql://x' }, { require: ['DATABASE_URL'] }));
  assert.deepEqual(err.problems.map((p) => p.variable), ['DATABASE_URL']);
  assert.doesNotMatch(err.message, /is required/);
});

test('require: the result carries the required values (the type narrows them once)', () => {
  const c = loadConfig({ KAFKA_BROKERS: 'k1:9092', DATABASE_URL: 'postgres://u@db/o' }, { require: ['KAFKA_BROKERS', 'DATABASE_URL'] });
  const brokers: string[] = c.kafka.brokers;
  const url: string = c.db.url;
  assert.deepEqual(brokers, ['k1:9092']);
  assert.equal(url, 'postgres://u@db/o');
  assert.equal(loadConfig({}).db.url, undefined, 'nothing required: nothing checked');
});

test('require DATABASE_READ: the replica when set, else the primary; one of them must be set', () => {
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://p/o' }, { require: ['DATABASE_READ'] }).db.readUrl, 'postgres://p/o');
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://p/o', DATABASE_REPLICA_URL: 'postgres://r/o' }, { require: ['DATABASE_READ'] }).db.readUrl, 'postgres://r/o');
  assert.equal(loadConfig({ DATABASE_REPLICA_URL: 'postgres://r/o' }, { require: ['DATABASE_READ'] }).db.readUrl, 'postgres://r/o');
  const err = configError(() => loadConfig({}, { require: ['DATABASE_READ'] }));
  assert.deepEqual(err.problems.map((p) => p.variable), ['DATABASE_URL']);
  assert.match(err.message, /DATABASE_REPLICA_URL also serves it/);
});

test('orchestry-ingest run without KAFKA_BROKERS and DATABASE_URL exits 2 naming both in one message', { timeout: 90_000 }, async () => {
  const r = await runCli(['run'], { HTTP_PORT: '99999' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^orchestry-ingest: invalid configuration:/);
  for (const v of ['KAFKA_BROKERS', 'DATABASE_URL', 'HTTP_PORT']) assert.match(r.stderr, new RegExp(`^\\s+${v}: `, 'm'), `${v} named in: ${r.stderr}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 4, r.stderr);
});
