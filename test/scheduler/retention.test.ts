import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { childrenOf, dayIso, dayTag, runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
const env = { RETENTION_METRICS_INSTANCE_DAYS: '3', RETENTION_METRICS_APP_DAYS: '6', RETENTION_EVENTS_DAYS: '4', RETENTION_STOPPED_INSTANCES_DAYS: '7' };

// Days -10 .. +3 of metrics (both levels), events and rollups, each with rows.
before(async () => {
  db = await freshDatabase();
  for (let k = -10; k <= 3; k++) {
    for (const t of ['metrics', 'events', 'metric_rollups']) await db.pool.query(`SELECT orchestry_ensure_day_partition($1, $2::date)`, [t, dayIso(k)]);
  }
  await db.pool.query(`INSERT INTO applications (name, spec) VALUES ('web', '{}')`);
  await db.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
    SELECT 'web', 'rps', ts, 1, lvl FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '10 days', now(), interval '10 minutes') ts,
           unnest(ARRAY['instance', 'app']) lvl`);
  await db.pool.query(`
    INSERT INTO events (event_type, app_name, message, severity, timestamp)
    SELECT 'health', 'web', 'probe ' || (extract(hour FROM ts AT TIME ZONE 'UTC')::int % 7), CASE WHEN extract(minute FROM ts)::int < 30 THEN 'info' ELSE 'warning' END, ts
      FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '10 days', now(), interval '10 minutes') ts`);
  await db.pool.query(`
    INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, updated_at)
    VALUES ('web', 'old', 'web-0', 0, '10.0.0.1', 80, 'stopped', now() - interval '8 days'),
           ('web', 'recent', 'web-1', 1, '10.0.0.2', 80, 'stopped', now() - interval '1 day'),
           ('web', 'alive', 'web-2', 2, '10.0.0.3', 80, 'running', now() - interval '30 days')`);
});
after(async () => {
  await db?.drop();
});

test('retention leaves exactly the partitions inside retention, while inserts into today keep succeeding', async () => {
  // Ingestion stand-in: a tight INSERT loop into today's partitions on its own connection.
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  let stop = false;
  let inserts = 0;
  let slowest = 0;
  const loop = (async () => {
    while (!stop) {
      const t0 = performance.now();
      await client.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value) VALUES ('web', 'cpu_percent', now(), 1)`);
      await client.query(`INSERT INTO events (event_type, app_name, message) VALUES ('health', 'web', 'ok')`);
      slowest = Math.max(slowest, performance.now() - t0);
      inserts++;
    }
  })();
  const run = await runJob(db.pool, testConfig(db.url, env), 'retention');
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await loop;
  await client.end();
  assert.ok(inserts > 10, `ingestion kept going (${inserts} inserts)`);
  assert.ok(slowest < 2000, `no insert waited long (slowest ${slowest.toFixed(0)} ms)`);

  const want = (from: number, to: number, f: (k: number) => string) => Array.from({ length: to - from + 1 }, (_, i) => f(from + i));
  assert.deepEqual(await childrenOf(db.pool, 'metrics'), want(-6, 3, (k) => `metrics_p${dayTag(k)}`));
  for (let k = -6; k <= 3; k++) {
    const leaves = await childrenOf(db.pool, `metrics_p${dayTag(k)}`);
    assert.deepEqual(leaves, k >= -3 ? [`metrics_p${dayTag(k)}_app`, `metrics_p${dayTag(k)}_instance`] : [`metrics_p${dayTag(k)}_app`], `day ${k}`);
  }
  assert.deepEqual(await childrenOf(db.pool, 'events'), want(-4, 3, (k) => `events_p${dayTag(k)}`));
  assert.deepEqual(await childrenOf(db.pool, 'metric_rollups'), want(-6, 3, (k) => `metric_rollups_p${dayTag(k)}`));
  // Dropped, not left behind detached.
  const { rows: orphans } = await db.pool.query(`SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname ~ '_p[0-9]{8}' AND NOT relispartition`);
  assert.deepEqual(orphans, []);
  // Nothing but partitions went: the rows inside retention are all there.
  const { rows: kept } = await db.pool.query<{ n: number }>(`SELECT count(*) AS n FROM metrics WHERE aggregation_level = 'app' AND timestamp >= $1::date`, [dayIso(-6)]);
  assert.ok(kept[0]!.n >= 6 * 144);
  const { rows: inst } = await db.pool.query<{ container_id: string }>(`SELECT container_id FROM instances ORDER BY 1`);
  assert.deepEqual(inst.map((r) => r.container_id), ['alive', 'recent']);
  assert.ok((run.rowsAffected ?? 0) >= 4 + 7 + 6 + 4 + 1);
});

test('event days are summarised into events_compressed before their partitions are dropped', async () => {
  const { rows } = await db.pool.query<{ hours: number; events: number; sev: Record<string, number>; samples: string[] }>(`
    SELECT count(*) AS hours, sum(event_count)::int AS events,
           (SELECT severity_counts FROM events_compressed WHERE hour_bucket = $1::date + time '05:00' AT TIME ZONE 'UTC') AS sev,
           (SELECT sample_messages FROM events_compressed WHERE hour_bucket = $1::date + time '05:00' AT TIME ZONE 'UTC') AS samples
      FROM events_compressed WHERE hour_bucket < $2::date`, [dayIso(-9), dayIso(-4)]);
  assert.equal(rows[0]!.hours, 6 * 24, 'every hour of the six dropped days');
  assert.equal(rows[0]!.events, 6 * 144);
  assert.deepEqual(rows[0]!.sev, { info: 3, warning: 3 });
  assert.deepEqual(rows[0]!.samples, ['probe 5']);
});

test('a second retention run finds nothing to drop', async () => {
  const run = await runJob(db.pool, testConfig(db.url, env), 'retention');
  assert.equal(run.rowsAffected, 0);
});
