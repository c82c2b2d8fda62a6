import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
const config = () => testConfig(db.url, { ROLLUP_GRACE_MINUTES: '90' });

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

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;
const direct = (width: string, bin: string, upto: string) => `
  SELECT '${width}'::text AS width, date_bin('${bin}', timestamp, ${ORIGIN}) AS bucket, app_name::text, metric_type::text,
         count(*) AS count, avg(value) AS avg, min(value) AS min, max(value) AS max,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99
    FROM metrics WHERE aggregation_level = 'instance' AND timestamp < ${upto} GROUP BY 1, 2, 3, 4`;

/** Rows that differ between metric_rollups and a direct aggregation of the raw rows (every column). */
async function mismatches(): Promise<number> {
  const w = `(SELECT watermark FROM rollup_state)`;
  const { rows } = await db.pool.query<{ n: number; total: number }>(`
    WITH d AS (${direct('1m', '1 minute', w)} UNION ALL ${direct('1h', '1 hour', `date_bin('1 hour', ${w}, ${ORIGIN})`)}),
         r AS (SELECT width::text, bucket, app_name::text, metric_type::text, count, avg, min, max, p50, p95, p99 FROM metric_rollups)
    SELECT (SELECT count(*) FROM ((SELECT * FROM d EXCEPT ALL SELECT * FROM r) UNION ALL (SELECT * FROM r EXCEPT ALL SELECT * FROM d)) x) AS n,
           (SELECT count(*) FROM r) AS total`);
  assert.ok(rows[0]!.total > 4 * 3 * 1440, `rollups were written (${rows[0]!.total})`);
  return rows[0]!.n;
}

/** The seed's get_app_metrics_window columns computed straight from the raw instance-level rows. */
async function rawWindow(app: string, minutes: number) {
  const { rows } = await db.pool.query(
    `SELECT metric_type::text, avg(value) AS avg_value, min(value)::float8 AS min_value, max(value)::float8 AS max_value,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50_value, percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95_value,
            count(*) AS data_points
       FROM metrics WHERE app_name = $1 AND aggregation_level = 'instance' AND timestamp >= now() - make_interval(mins => $2)
      GROUP BY metric_type ORDER BY metric_type`,
    [app, minutes],
  );
  return rows;
}

/** Every rollup window has exactly one app-level metrics row carrying its numbers. */
async function appRowsMatch(): Promise<void> {
  const { rows } = await db.pool.query<{ rollups: number; app_rows: number; matched: number }>(`
    SELECT (SELECT count(*) FROM metric_rollups) AS rollups,
           (SELECT count(*) FROM metrics WHERE aggregation_level = 'app') AS app_rows,
           (SELECT count(*) FROM metric_rollups r JOIN metrics m
              ON m.aggregation_level = 'app' AND m.app_name = r.app_name AND m.metric_type = r.metric_type AND m.timestamp = r.bucket
             AND m.labels->>'window' = r.width AND m.value = r.avg::real AND (m.labels->>'count')::bigint = r.count
             AND (m.labels->>'p95')::float8 = r.p95 AND (m.labels->>'max')::real = r.max) AS matched`);
  assert.equal(rows[0]!.app_rows, rows[0]!.rollups);
  assert.equal(rows[0]!.matched, rows[0]!.rollups);
}

const snapshot = async () =>
  (await db.pool.query(`SELECT 'r' AS t, xmin::text, ctid::text FROM metric_rollups UNION ALL SELECT 'm', xmin::text, ctid::text FROM metrics WHERE aggregation_level = 'app' ORDER BY 1, 3`)).rows;

test('the window function answers from raw rows before any rollup exists, like the seed query', async () => {
  const { rows: got } = await db.pool.query(`SELECT * FROM orchestry_app_metrics_window('app-1', 180) ORDER BY metric_type`);
  const want = await rawWindow('app-1', 180);
  assert.deepEqual(got, want);
});

// 7 samples 0, 0.5 .. 3: percentile_cont(0.95) is 2.8499999999999996, and 7 * that / 7 is not
// (the weighted merge of pieces must not be applied to a single piece).
test('a window of one piece returns its percentiles bit for bit, not re-weighted', async () => {
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
    SELECT 'app-exact', 'rps', now() - interval '2 minutes', g * 0.5, 'instance' FROM generate_series(0, 6) g`);
  try {
    const { rows: [raw] } = await db.pool.query(`SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95 FROM metrics WHERE app_name = 'app-exact'`);
    assert.notEqual((7 * raw.p95) / 7, raw.p95, 'the data is one where re-weighting changes the last bit');
    const { rows } = await db.pool.query(`SELECT * FROM orchestry_app_metrics_window('app-exact', 60)`);
    assert.deepEqual(rows, [{ metric_type: 'rps', avg_value: 1.5, min_value: 0, max_value: 3, p50_value: 1.5, p95_value: raw.p95, data_points: 7 }]);
  } finally {
    await db.pool.query(`DELETE FROM metrics WHERE app_name = 'app-exact'`);
  }
});

test('rollups equal a direct aggregation of the raw rows, and each window is mirrored as an app-level metrics row', async () => {
  const run = await runJob(db.pool, config(), 'rollups');
  assert.ok((run.rowsAffected ?? 0) > 0);
  assert.equal(await mismatches(), 0);
  await appRowsMatch();
});

// The late row sits in the last complete hour (at most 61 minutes ago), inside the 90-minute grace.
test('a late row inside the grace period is taken by the next run, and the result still equals a direct aggregation', async () => {
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level) VALUES ('app-1', 'rps', date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') - interval '30 seconds', 999.5, 'instance')`);
  assert.ok((await mismatches()) > 0, 'the late row makes two windows (1m, 1h) stale');
  const run = await runJob(db.pool, config(), 'rollups');
  assert.equal(run.rowsAffected, 2, 'exactly its 1-minute and 1-hour windows changed');
  assert.equal(await mismatches(), 0);
  await appRowsMatch();
});

test('a second run changes nothing: no rollup or app row is rewritten', async () => {
  const before = await snapshot();
  const run = await runJob(db.pool, config(), 'rollups');
  assert.equal(run.rowsAffected, 0);
  assert.deepEqual(await snapshot(), before);
});

test('a row later than the grace period is taken when an operator reruns from a given time', async () => {
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level) VALUES ('app-2', 'cpu_percent', now() - interval '1 day', 0.5, 'instance')`);
  await runJob(db.pool, config(), 'rollups');
  assert.ok((await mismatches()) > 0);
  await runJob(db.pool, config(), 'rollups', { from: new Date(Date.now() - 2 * 86_400_000).toISOString() });
  assert.equal(await mismatches(), 0);
  await appRowsMatch();
});

test('the 24-hour window from rollups matches the raw aggregation: counts, avg, min and max exactly, percentiles approximately', async () => {
  const { rows: got } = await db.pool.query(`SELECT * FROM orchestry_app_metrics_window('app-1', 1440) ORDER BY metric_type`);
  const want = await rawWindow('app-1', 1440);
  assert.equal(got.length, 2);
  for (const [i, g] of got.entries()) {
    const w = want[i];
    assert.equal(g.metric_type, w.metric_type);
    assert.equal(g.data_points, w.data_points);
    assert.equal(g.min_value, w.min_value);
    assert.equal(g.max_value, w.max_value);
    assert.ok(Math.abs(g.avg_value - w.avg_value) < 1e-9 * Math.abs(w.avg_value), `avg ${g.avg_value} vs ${w.avg_value}`);
    for (const p of ['p50_value', 'p95_value']) assert.ok(g[p] >= w.min_value && g[p] <= w.max_value, `${p} within range`);
    assert.ok(Math.abs(g.p50_value - w.p50_value) < 0.2 * (w.max_value - w.min_value), 'p50 close');
  }
  const { rows: seedSet } = await db.pool.query(`SELECT metric_type FROM orchestry_app_metrics_window('app-1', 60, ARRAY['rps'])`);
  assert.deepEqual(seedSet, [{ metric_type: 'rps' }]);
});
