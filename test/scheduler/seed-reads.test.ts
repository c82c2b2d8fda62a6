// The seed's three read queries (seed/orchestry-database-schema.txt, ApplicationQueries and
// MetricsQueries, copied verbatim) answer the same before and after every job: rollups,
// compress-events, partitions and retention of other days. The data has several apps, stopped
// instances, a status filter, old days that retention drops and events to compress.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { dayIso, runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
const config = () => testConfig(db.url);

// ApplicationQueries.get_app_with_instances, verbatim.
const GET_APP_WITH_INSTANCES = `
SELECT
a.*,
COALESCE(
json_agg(
json_build_object(
'id', i.id,
'container_id', i.container_id,
'container_name', i.container_name,
'replica_index', i.replica_index,
'ip', i.ip,
'port', i.port,
'status', i.status,
'health_status', i.health_status,
'cpu_percent', i.cpu_percent,
'memory_percent', i.memory_percent,
'failure_count', i.failure_count,
'last_health_check', EXTRACT(EPOCH FROM i.last_health_check)
) ORDER BY i.replica_index
) FILTER (WHERE i.id IS NOT NULL),
'[]'::json
) as instances
FROM applications a
LEFT JOIN instances i ON a.name = i.app_name AND i.status != 'stopped'
WHERE a.name = $1
GROUP BY a.name
`;

// ApplicationQueries.get_apps_summary, verbatim, with its where_clause built as the seed builds it.
const getAppsSummary = (whereClause: string) => `
SELECT
a.name,
a.status,
a.replicas,
a.desired_replicas,
a.mode,
a.created_at,
a.updated_at,
a.last_scaled_at,
COUNT(i.id) FILTER (WHERE i.status = 'running') as running_instances,
COUNT(i.id) FILTER (WHERE i.health_status = 'healthy') as healthy_instances,
AVG(i.cpu_percent) FILTER (WHERE i.status = 'running') as avg_cpu_percent,
AVG(i.memory_percent) FILTER (WHERE i.status = 'running') as avg_memory_percent
FROM applications a
LEFT JOIN instances i ON a.name = i.app_name
${whereClause}
GROUP BY a.name, a.status, a.replicas, a.desired_replicas, a.mode,
a.created_at, a.updated_at, a.last_scaled_at
ORDER BY a.name
`;

// MetricsQueries.get_app_metrics_window, verbatim; the seed formats window_minutes into it with %.
const getAppMetricsWindow = (windowMinutes: number) => `
SELECT
metric_type,
AVG(value) as avg_value,
MIN(value) as min_value,
MAX(value) as max_value,
PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY value) as p50_value,
PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY value) as p95_value,
COUNT(*) as data_points
FROM metrics
WHERE app_name = $1
AND timestamp >= NOW() - INTERVAL '%s minutes'
AND metric_type IN ('cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections')
GROUP BY metric_type
`.replace('%s', String(windowMinutes));

const APPS = ['api', 'batch', 'web'];

/** Every answer the seed's queries give on this data, in a fixed order. */
async function seedAnswers(): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const app of [...APPS, 'missing']) out.push((await db.pool.query(GET_APP_WITH_INSTANCES, [app])).rows);
  out.push((await db.pool.query(getAppsSummary(''))).rows);
  for (const status of ['running', 'stopped']) out.push((await db.pool.query(getAppsSummary('WHERE a.status = $1'), [status])).rows);
  for (const app of APPS) {
    for (const minutes of [5, 60, 1440]) {
      const { rows } = await db.pool.query(getAppMetricsWindow(minutes), [app]);
      out.push(rows.sort((x, y) => (x.metric_type < y.metric_type ? -1 : 1)));
    }
  }
  return out;
}

// Samples every 15 s over the last 2 days, with no sample within 5 minutes of the start of a
// 1440-, 60- or 5-minute window (so no window edge crosses a sample while the test runs);
// 10 days ago (dropped by retention); events 2 days ago (compressed).
before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, config(), 'partitions');
  await db.pool.query(`SELECT orchestry_ensure_day_partition('metrics', $1::date)`, [dayIso(-10)]);
  await db.pool.query(`
    INSERT INTO applications (name, spec, status, replicas, desired_replicas, mode) VALUES
      ('api', '{"spec": {"image": "api:1"}}', 'running', 2, 2, 'auto'),
      ('batch', '{"spec": {"image": "batch:1"}}', 'stopped', 0, 0, 'manual'),
      ('web', '{"spec": {"image": "web:1"}}', 'running', 3, 3, 'auto');
    INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, health_status, cpu_percent, memory_percent, last_health_check)
    VALUES ('api', 'a0', 'api-0', 0, '10.0.0.1', 80, 'running', 'healthy', 12.5, 40, now() - interval '1 minute'),
           ('api', 'a1', 'api-1', 1, '10.0.0.2', 80, 'stopped', 'unknown', 0, 0, now() - interval '3 hours'),
           ('batch', 'b0', 'batch-0', 0, '10.0.0.3', 80, 'stopped', 'unhealthy', 0, 0, now() - interval '1 day'),
           ('web', 'w0', 'web-0', 0, '10.0.0.4', 80, 'running', 'healthy', 55, 70, now()),
           ('web', 'w1', 'web-1', 1, '10.0.0.5', 80, 'running', 'unhealthy', 95.5, 90, now()),
           ('web', 'w2', 'web-2', 2, '10.0.0.6', 80, 'draining', 'healthy', 5, 20, now());`);
  await db.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
    SELECT app, t, ts, (extract(epoch FROM ts)::bigint / 15 * 7 + length(app) * 13 + length(t)) % 100 + 0.25, '{"container_id": "x"}'::jsonb, '%', 'instance'
      FROM unnest(ARRAY['api', 'web', 'batch']) AS app, unnest(ARRAY['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'disk_usage']) AS t,
           generate_series(now() - interval '2 days', now() - interval '15 seconds', interval '15 seconds') AS ts
     WHERE NOT (ts >= now() - interval '1 day 10 minutes' AND ts < now() - interval '1 day' + interval '10 minutes')
       AND NOT (ts >= now() - interval '65 minutes' AND ts < now() - interval '55 minutes')
       AND NOT (ts >= now() - interval '10 minutes' AND ts < now() - interval '1 minute')
    UNION ALL
    SELECT 'web', 'cpu_percent', now() - interval '10 days' + make_interval(secs => g), 50, NULL, '%', 'instance' FROM generate_series(1, 100) g`);
  await db.pool.query(`
    INSERT INTO events (event_type, app_name, message, severity, timestamp)
    SELECT 'health', 'web', 'container w1 of web is unhealthy', 'warning', now() - interval '2 days' + make_interval(mins => g) FROM generate_series(1, 50) g`);
});
after(async () => {
  await db?.drop();
});

for (const job of ['rollups', 'compress-events', 'partitions', 'retention', 'rollups']) {
  test(`the seed's three queries answer the same before and after the ${job} job`, async () => {
    const before = await seedAnswers();
    assert.ok((before[0] as unknown[]).length === 1 && (before.at(-1) as unknown[]).length === 4, 'the data is there');
    const run = await runJob(db.pool, config(), job);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(await seedAnswers(), before);
  });
}

test('the jobs did their work meanwhile: windows rolled up, events compressed, the old day dropped', async () => {
  const { rows } = await db.pool.query(`
    SELECT (SELECT count(*) FROM metric_rollups)::int AS windows,
           (SELECT count(*) FROM events_compressed)::int AS compressed,
           (SELECT count(*) FROM metrics WHERE timestamp < now() - interval '8 days')::int AS old_rows`);
  assert.ok(rows[0].windows > 0, 'rollups');
  assert.ok(rows[0].compressed > 0, 'compress-events');
  assert.equal(rows[0].old_rows, 0, 'retention dropped the day 10 days ago');
});
