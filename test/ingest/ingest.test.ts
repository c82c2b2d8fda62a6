// Ingestion end to end: the real broker, the real database, assertions on rows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompressionTypes } from '../../src/kafka/client.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { headerText, produce, readAll, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { iso, lifecycle, registered, started, stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';
import type { RunningWorker } from '../../src/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let worker: RunningWorker;
const now = Date.now();

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) q`, params);
  return rows[0]!.n;
}

/** Registers `app` and waits for it, so later messages on other partitions find it registered. */
async function register(app: string, ts: number, spec: Record<string, unknown> = {}): Promise<void> {
  await produce(topics.lifecycle, [{ key: app, value: registered(app, ts, spec) }]);
  await waitUntil(`${app} registered`, async () => (await count(`SELECT 1 FROM applications WHERE name = $1 AND spec_updated_at IS NOT NULL`, [app])) === 1);
}

before(async () => {
  db = await freshDatabase();
  // A rule the decoder does not know, so PostgreSQL is the one to reject a row (E_DB_REJECTED).
  await db.pool.query(`ALTER TABLE metrics ADD CONSTRAINT test_rps_cap CHECK (metric_type <> 'rps' OR value < 1000000)`);
  topics = await testTopics();
  worker = await startTestWorker(workerEnv(db.url, topics));
});

after(async () => {
  await worker?.stop();
  await db?.drop();
});

describe('stats', () => {
  test('every metric field present becomes one metrics row with its unit, and labels gain container_id', async () => {
    const all = {
      cpu_percent: 150.5, memory_percent: 55.5, memory_bytes: 123456789, rps: 42, latency_p50: 1.5, latency_p95: 9.25,
      latency_p99: 20, active_connections: 7, error_rate: 0.5, response_time: 3.5, queue_length: 2, disk_usage: 71,
    };
    await produce(topics.stats, [{ key: 'c-all', value: stats('app-stats', 'c-all', iso(now - 1000), { ...all, labels: { zone: 'a' }, unknown_field: 'ignored' }) }]);
    await waitUntil('12 metrics rows', async () => (await count(`SELECT 1 FROM metrics WHERE labels->>'container_id' = 'c-all'`)) === 12);
    const { rows } = await db.pool.query(`SELECT metric_type, value, unit, labels, aggregation_level, timestamp FROM metrics WHERE labels->>'container_id' = 'c-all' ORDER BY metric_type`);
    const units: Record<string, string> = { cpu_percent: '%', memory_percent: '%', memory_bytes: 'bytes', rps: 'req/s', latency_p50: 'ms', latency_p95: 'ms', latency_p99: 'ms', active_connections: 'connections', error_rate: '%', response_time: 'ms', queue_length: 'items', disk_usage: '%' };
    for (const r of rows) {
      assert.equal(Math.fround(r.value), Math.fround(all[r.metric_type as keyof typeof all]), r.metric_type);
      assert.equal(r.unit, units[r.metric_type]);
      assert.deepEqual(r.labels, { zone: 'a', container_id: 'c-all' });
      assert.equal(r.aggregation_level, 'instance');
      assert.equal(new Date(r.timestamp).getTime(), now - 1000);
    }
  });

  test('the newest cpu and memory sample lands on the instance row, whatever the arrival order', async () => {
    await register('app-inst', now - 60_000);
    await produce(topics.lifecycle, [{ key: 'c-inst', value: started('app-inst', 'c-inst', now - 50_000) }]);
    await waitUntil('instance row', async () => (await count(`SELECT 1 FROM instances WHERE container_id = 'c-inst'`)) === 1);
    await produce(topics.stats, [
      { key: 'c-inst', value: stats('app-inst', 'c-inst', now - 1000, { cpu_percent: 80, memory_percent: 60, memory_bytes: 2048 }) },
      { key: 'c-inst', value: stats('app-inst', 'c-inst', now - 5000, { cpu_percent: 10, memory_percent: 5, memory_bytes: 1024 }) },
    ]);
    await waitUntil('both samples', async () => (await count(`SELECT 1 FROM metrics WHERE labels->>'container_id' = 'c-inst'`)) === 6);
    const { rows } = await db.pool.query(`SELECT cpu_percent, memory_percent, memory_usage_bytes FROM instances WHERE container_id = 'c-inst'`);
    assert.deepEqual(rows[0], { cpu_percent: 80, memory_percent: 60, memory_usage_bytes: 2048 });
  });

  test('an unknown application gets a placeholder registration and a warning event, and loses nothing', async () => {
    await produce(topics.stats, [{ key: 'c-ghost', value: stats('ghost-app', 'c-ghost', now - 2000) }]);
    await waitUntil('ghost metrics', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = 'ghost-app'`)) === 2);
    const { rows } = await db.pool.query(`SELECT status, spec FROM applications WHERE name = 'ghost-app'`);
    assert.equal(rows[0].status, 'registered');
    assert.equal(rows[0].spec.placeholder, true);
    assert.equal(await count(`SELECT 1 FROM events WHERE app_name = 'ghost-app' AND event_type = 'registration' AND severity = 'warning'`), 1);
    await produce(topics.lifecycle, [{ key: 'ghost-app', value: registered('ghost-app', now - 1000) }]);
    await waitUntil('real spec', async () => (await count(`SELECT 1 FROM applications WHERE name = 'ghost-app' AND spec->'spec'->>'image' = 'nginx:alpine'`)) === 1);
  });

  test('producers using gzip, snappy, lz4 and zstd compression are all consumed', async () => {
    const codecs = [CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD];
    for (const [i, codec] of codecs.entries()) {
      await produce(topics.stats, Array.from({ length: 20 }, (_, j) => ({ key: `cz-${i}-${j % 3}`, value: stats('app-codec', `cz-${i}-${j % 3}`, now - 10_000 + j, { labels: { codec: String(codec) } }) })), codec);
    }
    await waitUntil('80 samples x 2 rows', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = 'app-codec'`)) === 160);
    for (const codec of codecs) assert.equal(await count(`SELECT 1 FROM metrics WHERE app_name = 'app-codec' AND labels->>'codec' = $1`, [String(codec)]), 40);
  });

  test('a late sample inside retention is stored, its day partition made on demand', async () => {
    const late = now - 5 * 86_400_000;
    const day = new Date(late).toISOString().slice(0, 10).replace(/-/g, '');
    const before = await count(`SELECT 1 FROM pg_class WHERE relname LIKE $1`, [`metrics_p${day}%`]);
    assert.equal(before, 0, 'the migrations made no partition that far back');
    await produce(topics.stats, [{ key: 'c-late', value: stats('app-late', 'c-late', late) }]);
    await waitUntil('late rows', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = 'app-late'`)) === 2);
    const { rows } = await db.pool.query(`SELECT tableoid::regclass::text AS part FROM metrics WHERE app_name = 'app-late'`);
    assert.match(rows[0].part, new RegExp(`^metrics_p${day}`));
  });

  test('strings that COPY must escape arrive byte-exact', async () => {
    const hostile = ['tab\there', 'new\nline', 'cr\rreturn', 'back\\slash', '\\N', '\\.', 'quote"s\'', 'emoji 🦀👩‍👩‍👧', 'ends with \\', '\u2028\u2029', 'trailing\t'];
    const longApp = 'a'.repeat(253);
    const labels = Object.fromEntries(hostile.map((h, i) => [`k${i}${h}`, h]));
    await produce(topics.stats, [{ key: 'c-hostile', value: stats(longApp, 'c-\t\\N-hostile', now - 3000, { labels }) }]);
    await waitUntil('hostile rows', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = $1`, [longApp])) === 2);
    const { rows } = await db.pool.query(`SELECT labels FROM metrics WHERE app_name = $1`, [longApp]);
    assert.deepEqual(rows[0].labels, { ...labels, container_id: 'c-\t\\N-hostile' });
  });
});

describe('lifecycle', () => {
  test('every lifecycle type updates applications and instances and appends one events row', async () => {
    const app = 'app-life';
    const c = 'c-life';
    const t = now - 100_000;
    await register(app, t, { scaling: { minReplicas: 2, maxReplicas: 8, targetRPSPerReplica: 70 }, healthCheck: { path: '/health', port: 8080, periodSeconds: 10 } });
    await produce(topics.lifecycle, [
      { key: app, value: lifecycle('app.status', app, t + 1000, { status: 'starting' }) },
      { key: c, value: started(app, c, t + 2000, 1, { node_id: 'node-7', source: 'agent' }) },
      { key: c, value: lifecycle('container.health', app, t + 3000, { container_id: c, health_status: 'healthy' }) },
      { key: app, value: lifecycle('app.status', app, t + 4000, { status: 'running' }) },
      { key: app, value: lifecycle('app.scaled', app, t + 5000, { from: 2, to: 3, reason: 'high_cpu' }) },
      { key: c, value: lifecycle('container.health', app, t + 6000, { container_id: c, health_status: 'unhealthy', failures: 2, message: 'timeout' }) },
      { key: c, value: lifecycle('container.health', app, t + 7000, { container_id: c, health_status: 'unhealthy' }) },
    ]);
    await waitUntil('8 events', async () => (await count(`SELECT 1 FROM events WHERE app_name = $1`, [app])) === 8);
    const a = (await db.pool.query(`SELECT * FROM applications WHERE name = $1`, [app])).rows[0];
    assert.equal(a.status, 'running');
    assert.equal(a.desired_replicas, 3);
    assert.equal(a.replicas, 1);
    assert.equal(new Date(a.last_scaled_at).getTime(), t + 5000);
    const sp = (await db.pool.query(`SELECT min_replicas, max_replicas, target_rps_per_replica FROM scaling_policies WHERE app_name = $1`, [app])).rows[0];
    assert.deepEqual(sp, { min_replicas: 2, max_replicas: 8, target_rps_per_replica: 70 });
    const hc = (await db.pool.query(`SELECT path, port, period_seconds, protocol FROM health_checks WHERE app_name = $1`, [app])).rows[0];
    assert.deepEqual(hc, { path: '/health', port: 8080, period_seconds: 10, protocol: 'HTTP' });
    let i = (await db.pool.query(`SELECT * FROM instances WHERE container_id = $1`, [c])).rows[0];
    assert.equal(i.status, 'running');
    assert.equal(i.health_status, 'unhealthy');
    assert.equal(i.consecutive_failures, 3);
    assert.equal(i.failure_count, 2);
    assert.equal(i.replica_index, 1);
    assert.equal(i.ip, '10.0.0.5');
    assert.equal(new Date(i.started_at).getTime(), t + 2000);
    assert.equal(new Date(i.last_failure_at).getTime(), t + 7000);

    await produce(topics.lifecycle, [
      { key: c, value: lifecycle('container.draining', app, t + 8000, { container_id: c }) },
      { key: c, value: lifecycle('container.stopping', app, t + 9000, { container_id: c }) },
      { key: c, value: lifecycle('container.stopped', app, t + 10_000, { container_id: c }) },
      { key: c, value: lifecycle('container.error', app, t + 11_000, { container_id: c, error: 'OOMKilled' }) },
    ]);
    await waitUntil('12 events', async () => (await count(`SELECT 1 FROM events WHERE app_name = $1`, [app])) === 12);
    i = (await db.pool.query(`SELECT * FROM instances WHERE container_id = $1`, [c])).rows[0];
    assert.equal(i.status, 'error');
    assert.equal(i.failure_count, 3);
    const ev = (await db.pool.query(`SELECT event_type, severity, source, node_id FROM events WHERE app_name = $1 ORDER BY timestamp`, [app])).rows;
    assert.deepEqual(ev.map((e) => e.event_type), ['registration', 'deployment', 'deployment', 'health', 'deployment', 'scaling', 'health', 'health', 'deployment', 'deployment', 'deployment', 'error']);
    assert.equal(ev[2].source, 'agent');
    assert.equal(ev[2].node_id, 'node-7');
    assert.equal(ev[6].severity, 'warning');
    assert.equal(ev[11].severity, 'error');
  });

  test('out-of-order lifecycle messages leave the newest state', async () => {
    const app = 'app-order';
    const c = 'c-order';
    const t = now - 200_000;
    await register(app, t);
    await produce(topics.lifecycle, [
      { key: c, value: started(app, c, t + 1000) },
      { key: c, value: lifecycle('container.stopped', app, t + 9000, { container_id: c }) },
      { key: c, value: lifecycle('container.draining', app, t + 5000, { container_id: c }) }, // older: ignored
      { key: c, value: lifecycle('container.health', app, t + 8000, { container_id: c, health_status: 'healthy' }) },
      { key: c, value: lifecycle('container.health', app, t + 7000, { container_id: c, health_status: 'unhealthy' }) }, // older
      { key: app, value: lifecycle('app.status', app, t + 6000, { status: 'running' }) },
      { key: app, value: lifecycle('app.status', app, t + 3000, { status: 'starting' }) }, // older
    ]);
    await waitUntil('8 events', async () => (await count(`SELECT 1 FROM events WHERE app_name = $1`, [app])) === 8);
    const i = (await db.pool.query(`SELECT status, health_status, consecutive_failures, failure_count FROM instances WHERE container_id = $1`, [c])).rows[0];
    assert.deepEqual(i, { status: 'stopped', health_status: 'healthy', consecutive_failures: 0, failure_count: 1 });
    const a = (await db.pool.query(`SELECT status, replicas FROM applications WHERE name = $1`, [app])).rows[0];
    assert.deepEqual(a, { status: 'running', replicas: 0 });
  });

  test('a replacement container takes over its replica slot', async () => {
    const app = 'app-slot';
    const t = now - 300_000;
    await register(app, t);
    await produce(topics.lifecycle, [
      { key: 'old', value: started(app, 'c-slot-old', t + 1000, 0) },
      { key: 'old', value: lifecycle('container.stopped', app, t + 2000, { container_id: 'c-slot-old' }) },
      { key: 'new', value: started(app, 'c-slot-new', t + 3000, 0) },
    ]);
    await waitUntil('4 events', async () => (await count(`SELECT 1 FROM events WHERE app_name = $1`, [app])) === 4);
    const rows = (await db.pool.query(`SELECT container_id, status FROM instances WHERE app_name = $1`, [app])).rows;
    assert.deepEqual(rows, [{ container_id: 'c-slot-new', status: 'running' }]);
  });
});

describe('bad input', () => {
  test('each bad message goes to the DLQ with its code, source coordinates and untouched bytes; the good ones are stored', async () => {
    const bad: [string, Buffer | string | object][] = [
      ['E_JSON', '{"v":1,'],
      ['E_UTF8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['E_VERSION', { ...stats('app-bad', 'c-bad', now), v: 2 }],
      ['E_SCHEMA', { v: 1, app: 'app-bad', ts: now }],
      ['E_SCHEMA', { ...stats('app-bad', 'c-bad', now), cpu_percent: 'high' }],
      ['E_OUT_OF_RANGE', stats('app-bad', 'c-bad', now, { memory_percent: 101 })],
      ['E_OUT_OF_RANGE', stats('app-bad', 'c-bad', now - 40 * 86_400_000)],
      ['E_OUT_OF_RANGE', stats('app-bad', 'c-bad', now + 86_400_000)],
      ['E_NUL_BYTE', stats('app-bad', 'c-bad', now, { labels: { k: 'nul\u0000byte' } })],
    ];
    await produce(topics.stats, [
      ...bad.map(([code, value]) => ({ key: `bad-${code}`, value, headers: { 'x-trace': 'abc' } })),
      { key: 'c-good', value: stats('app-bad', 'c-good', now - 5000) },
      { key: 'c-tomb', value: null },
    ]);
    await waitUntil('good row', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = 'app-bad'`)) === 2);
    await waitUntil('dead letters recorded', async () => (await count(`SELECT 1 FROM ingest_dead_letters WHERE topic = $1`, [topics.stats])) >= bad.length);
    const dlq = await readAll(topics.dlq);
    const mine = dlq.filter((m) => m.key?.toString().startsWith('bad-'));
    assert.equal(mine.length, bad.length);
    for (const [code, value] of bad) {
      const m = mine.find((x) => x.key!.toString() === `bad-${code}` && headerText(x.headers, 'orchestry.error.code') === code && x.value!.equals(Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))));
      assert.ok(m, `DLQ has the ${code} message with its original bytes`);
      assert.equal(headerText(m.headers, 'orchestry.source.topic'), topics.stats);
      assert.match(headerText(m.headers, 'orchestry.source.offset')!, /^\d+$/);
      assert.match(headerText(m.headers, 'orchestry.source.partition')!, /^\d+$/);
      assert.ok(headerText(m.headers, 'orchestry.error.message')!.length > 0);
      assert.ok(headerText(m.headers, 'orchestry.worker.id'));
      assert.equal(headerText(m.headers, 'x-trace'), 'abc');
    }
    assert.ok(worker.metrics.registry.getSingleMetric('orchestry_ingest_messages_total'));
    const tomb = (await worker.metrics.messagesConsumed.get()).values.find((v) => v.labels.outcome === 'tombstone');
    assert.equal(tomb?.value, 1);
  });

  test('a row PostgreSQL rejects is isolated into the DLQ with E_DB_REJECTED and its offset; the rest of its batch is stored', async () => {
    const msgs = Array.from({ length: 40 }, (_, i) => ({ key: 'c-rej', value: stats('app-rej', 'c-rej', now - 40_000 + i, { rps: i === 17 ? 5_000_000 : i }) }));
    await produce(topics.stats, msgs);
    await waitUntil('39 stored samples', async () => (await count(`SELECT 1 FROM metrics WHERE app_name = 'app-rej' AND metric_type = 'rps'`)) === 39);
    const { rows } = await db.pool.query(`SELECT "offset", error_code FROM ingest_dead_letters WHERE topic = $1 AND error_code = 'E_DB_REJECTED'`, [topics.stats]);
    assert.equal(rows.length, 1);
    const dlq = (await readAll(topics.dlq)).filter((m) => headerText(m.headers, 'orchestry.error.code') === 'E_DB_REJECTED');
    assert.equal(dlq.length, 1);
    assert.equal(headerText(dlq[0]!.headers, 'orchestry.source.offset'), String(rows[0].offset));
    assert.equal(JSON.parse(dlq[0]!.value!.toString()).rps, 5_000_000);
    assert.equal(await count(`SELECT 1 FROM metrics WHERE app_name = 'app-rej' AND metric_type = 'rps' AND value >= 1000000`), 0);
  });
});
