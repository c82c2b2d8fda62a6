import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';
import { assertWindowMatches, staleWindows, writeLikeWriter } from './window-check.ts';

let db: TestDatabase;
const config = (env: Record<string, string> = {}) => testConfig(db.url, env);

// Three days of instance-level samples, every 30 s, 2 apps x 2 types x 2 containers, ending 5 min
// before the current hour (no window with data completes while the tests run). Values are
// multiples of 0.5 so that sums are exact in any order.
before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, config(), 'partitions');
  await db.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
    SELECT 'app-' || a, t, ts, ((extract(epoch FROM ts)::bigint / 30 * 7 + a * 13 + c * 5) % 200) / 2.0, jsonb_build_object('container_id', 'c' || c), 'percent', 'instance'
      FROM generate_series(date_trunc('hour', now()) - interval '3 days', date_trunc('hour', now()) - interval '5 minutes', interval '30 seconds') AS ts,
           generate_series(1, 2) AS a, unnest(ARRAY['cpu_percent', 'rps']) AS t, generate_series(1, 2) AS c`);
});
after(async () => {
  await db?.drop();
});

/** How many windows differ between metric_rollups and a direct aggregation of the raw rows. */
async function mismatches(): Promise<number> {
  const { rows } = await db.pool.query<{ total: number }>(`SELECT count(*)::int AS total FROM metric_rollups`);
  assert.ok(rows[0]!.total > 4 * 3 * 1440, `rollups were written (${rows[0]!.total})`);
  return (await staleWindows(db.pool)).length;
}

/** The seed's get_app_metrics_window columns (plus p99) computed straight from the raw instance-level rows. */
async function rawWindow(app: string, minutes: number) {
  const { rows } = await db.pool.query(
    `SELECT metric_type::text, avg(value) AS avg_value, min(value)::float8 AS min_value, max(value)::float8 AS max_value,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50_value, percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95_value,
            count(*) AS data_points, percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99_value
       FROM metrics WHERE app_name = $1 AND aggregation_level = 'instance' AND timestamp >= now() - make_interval(mins => $2)
      GROUP BY metric_type ORDER BY metric_type`,
    [app, minutes],
  );
  return rows;
}

/** Every rollup window has exactly one app-level metrics row carrying its numbers. */
async function appRowsMatch(pool = db.pool): Promise<void> {
  const { rows } = await pool.query<{ rollups: number; app_rows: number; matched: number }>(`
    SELECT (SELECT count(*) FROM metric_rollups) AS rollups,
           (SELECT count(*) FROM metrics WHERE aggregation_level = 'app') AS app_rows,
           (SELECT count(*) FROM metric_rollups r JOIN metrics m
              ON m.aggregation_level = 'app' AND m.app_name = r.app_name AND m.metric_type = r.metric_type AND m.timestamp = r.bucket
             AND m.labels->>'window' = r.width AND m.value = r.avg::real AND (m.labels->>'count')::bigint = r.count
             AND (m.labels->>'p95')::float8 = r.p95 AND (m.labels->>'max')::real = r.max) AS matched`);
  assert.ok(rows[0]!.rollups > 0, 'there are windows');
  assert.equal(rows[0]!.app_rows, rows[0]!.rollups);
  assert.equal(rows[0]!.matched, rows[0]!.rollups);
}

const snapshot = async () => (await db.pool.query(`SELECT xmin::text, ctid::text FROM metric_rollups ORDER BY 2`)).rows;

test('the window function answers from raw rows before any rollup exists, like the seed query', async () => {
  const { rows: got } = await db.pool.query(`SELECT * FROM orchestry_app_metrics_window('app-1', 180) ORDER BY metric_type`);
  const want = await rawWindow('app-1', 180);
  assert.equal(want.length, 2);
  assert.deepEqual(got, want);
});

// 7 samples 0, 0.5 .. 3: percentile_cont(0.95) is 2.8499999999999996, and 7 * that / 7 is not
// (a window read wholly from raw rows returns percentile_cont itself).
test('a window of one piece returns its percentiles bit for bit, not re-weighted', async () => {
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
    SELECT 'app-exact', 'rps', now() - interval '2 minutes', g * 0.5, 'instance' FROM generate_series(0, 6) g`);
  try {
    const { rows: [raw] } = await db.pool.query(`SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95, percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99 FROM metrics WHERE app_name = 'app-exact'`);
    assert.notEqual((7 * raw.p95) / 7, raw.p95, 'the data is one where re-weighting changes the last bit');
    const { rows } = await db.pool.query(`SELECT * FROM orchestry_app_metrics_window('app-exact', 60)`);
    assert.deepEqual(rows, [{ metric_type: 'rps', avg_value: 1.5, min_value: 0, max_value: 3, p50_value: 1.5, p95_value: raw.p95, data_points: 7, p99_value: raw.p99 }]);
  } finally {
    await db.pool.query(`DELETE FROM metrics WHERE app_name = 'app-exact'`);
  }
});

test('rollups equal a direct aggregation of the raw rows, and by default nothing is mirrored into metrics', async () => {
  const run = await runJob(db.pool, config(), 'rollups');
  assert.ok((run.rowsAffected ?? 0) > 0);
  assert.equal(await mismatches(), 0);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM metrics WHERE aggregation_level <> 'instance'`);
  assert.equal(rows[0].n, 0, 'no app-level rows in metrics');
});

test('the view metric_rollups_as_metrics has the columns of metrics and one row per window', async () => {
  const cols = async (rel: string) =>
    (await db.pool.query(`SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [rel])).rows;
  assert.deepEqual(await cols('metric_rollups_as_metrics'), await cols('metrics'));
  const { rows } = await db.pool.query(`
    SELECT (SELECT count(*) FROM metric_rollups)::int AS windows, count(*)::int AS rows,
           count(*) FILTER (WHERE v.value = r.avg::real AND (v.labels->>'count')::bigint = r.count AND (v.labels->>'p99')::float8 = r.p99)::int AS matched
      FROM metric_rollups_as_metrics v JOIN metric_rollups r
        ON r.app_name = v.app_name AND r.metric_type = v.metric_type AND r.bucket = v.timestamp AND r.width = v.labels->>'window'`);
  assert.ok(rows[0].windows > 0);
  assert.equal(rows[0].rows, rows[0].windows);
  assert.equal(rows[0].matched, rows[0].windows);
});

test('with ROLLUP_MIRROR_APP_METRICS=true each window is also an app-level metrics row', async () => {
  const other = await freshDatabase();
  try {
    const cfg = testConfig(other.url, { ROLLUP_MIRROR_APP_METRICS: 'true' });
    await runJob(other.pool, cfg, 'partitions');
    await other.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
      SELECT 'web', 'rps', date_trunc('hour', now()) - interval '2 hours' + make_interval(secs => g * 7), g % 50, 'instance' FROM generate_series(0, 1000) g`);
    await runJob(other.pool, cfg, 'rollups');
    await appRowsMatch(other.pool);
  } finally {
    await other.drop();
  }
});

// The late row sits in the last complete hour, written as the writer writes (rows + invalidation log).
test('a late row is taken by the next run, and the result still equals a direct aggregation', async () => {
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const logged = await writeLikeWriter(db.pool, [{ app: 'app-1', type: 'rps', ms: hour - 30_000, value: 999.5 }]);
  assert.equal(logged, 1, 'its 1-minute window was logged');
  assert.ok((await mismatches()) > 0, 'the late row makes two windows (1m, 1h) stale');
  const run = await runJob(db.pool, config(), 'rollups');
  assert.equal(run.rowsAffected, 2, 'exactly its 1-minute and 1-hour windows changed');
  assert.equal(await mismatches(), 0);
});

test('a second run changes nothing: no rollup row is rewritten', async () => {
  const before = await snapshot();
  const run = await runJob(db.pool, config(), 'rollups');
  assert.equal(run.rowsAffected, 0);
  assert.deepEqual(await snapshot(), before);
});

test('a row a day late through the writer is taken by the next run; one inserted around the writer is taken by a rerun from a given time', async () => {
  await writeLikeWriter(db.pool, [{ app: 'app-2', type: 'cpu_percent', ms: Date.now() - 86_400_000, value: 0.5 }]);
  await runJob(db.pool, config(), 'rollups');
  assert.equal(await mismatches(), 0);
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level) VALUES ('app-2', 'cpu_percent', now() - interval '2 days', 0.5, 'instance')`);
  await runJob(db.pool, config(), 'rollups');
  assert.ok((await mismatches()) > 0, 'not logged: the rollups do not know');
  await runJob(db.pool, config(), 'rollups', { from: new Date(Date.now() - 3 * 86_400_000).toISOString() });
  assert.equal(await mismatches(), 0);
});

test('the 24-hour window from rollups matches the raw aggregation: counts, min and max exactly, avg within 1e-9, percentiles within alpha', async () => {
  const worst = await assertWindowMatches(db.pool, 'app-1', 1440);
  assert.ok(worst.sketched >= 4, 'p50/p95/p99 came from merged sketches');
  const { rows: seedSet } = await db.pool.query(`SELECT metric_type FROM orchestry_app_metrics_window('app-1', 180, ARRAY['rps'])`);
  assert.deepEqual(seedSet, [{ metric_type: 'rps' }]);
});

test('the job\'s transactions run with ROLLUP_WORK_MEM_MB of work_mem, and only they', async () => {
  const { withWorkMem } = await import('../../src/scheduler/rollups.ts');
  const { rows: before } = await db.pool.query<{ work_mem: string }>('SHOW work_mem');
  assert.notEqual(before[0]!.work_mem, '7MB');
  const inside = await withWorkMem(db.pool, 7, async (c) => (await c.query<{ work_mem: string }>('SHOW work_mem')).rows[0]!.work_mem);
  assert.equal(inside, '7MB');
  // SET LOCAL: every pooled connection is back at the server's setting after the transaction.
  const clients = await Promise.all([db.pool.connect(), db.pool.connect()]);
  try {
    for (const c of clients) assert.equal((await c.query<{ work_mem: string }>('SHOW work_mem')).rows[0]!.work_mem, before[0]!.work_mem);
  } finally {
    for (const c of clients) c.release();
  }
});
