// Shared by the rollup tests: the exact answer of a window over raw rows (with the two samples
// percentile_cont interpolates between), the sketch's error against it, and rows written the way
// the writer writes them (rows plus the invalidation log, in one transaction).
import assert from 'node:assert/strict';
import type { Pool, PoolClient } from '../../src/db/pool.ts';
import { withTransaction } from '../../src/db/tx.ts';
import type { StatsMessage } from '../../src/ingest/contract.ts';
import { TouchedWindows } from '../../src/ingest/write/invalidations.ts';

export const ALPHA = 0.01;
export const QS = [0.5, 0.95, 0.99] as const;

export interface ExactWindow {
  metric_type: string;
  n: number;
  min: number;
  max: number;
  avg: number;
  meanAbs: number;
  /** Per quantile of QS: the samples at floor and ceil of q * (n - 1), as percentile_cont uses. */
  lo: number[];
  hi: number[];
  /** percentile_cont of each quantile (what a window read wholly from raw rows returns). */
  cont: number[];
}

/** The exact figures of [now() - minutes, now()) of `app` from raw rows (call in the transaction of the compared read). */
export async function exactWindow(client: PoolClient, app: string, minutes: number): Promise<ExactWindow[]> {
  const { rows } = await client.query<ExactWindow>(
    `WITH x AS (
       SELECT metric_type::text, value::float8 AS v, row_number() OVER (PARTITION BY metric_type ORDER BY value) - 1 AS i,
              count(*) OVER (PARTITION BY metric_type) AS n
         FROM metrics WHERE aggregation_level = 'instance' AND app_name = $1 AND timestamp >= now() - make_interval(mins => $2)
     ), q AS (
       SELECT x.metric_type, q.i AS qi,
              max(x.v) FILTER (WHERE x.i = floor(q.q * (x.n - 1))) AS lo, max(x.v) FILTER (WHERE x.i = ceil(q.q * (x.n - 1))) AS hi
         FROM x, unnest($3::float8[]) WITH ORDINALITY AS q(q, i) GROUP BY 1, 2
     )
     SELECT x.metric_type, count(*)::int AS n, min(v) AS min, max(v) AS max, avg(v) AS avg, avg(abs(v)) AS "meanAbs",
            (SELECT array_agg(lo ORDER BY qi) FROM q WHERE q.metric_type = x.metric_type) AS lo,
            (SELECT array_agg(hi ORDER BY qi) FROM q WHERE q.metric_type = x.metric_type) AS hi,
            percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY v) AS cont
       FROM x GROUP BY x.metric_type ORDER BY 1`,
    [app, minutes, QS],
  );
  return rows;
}

/** Relative distance of `est` from the interval [lo, hi] (0 inside it). */
export function intervalError(est: number, lo: number, hi: number): number {
  if (est < lo) return (lo - est) / Math.abs(lo);
  if (est > hi) return (est - hi) / Math.abs(hi);
  return 0;
}

/** Relative error against the nearer of the two samples (what the sketch guarantees). */
export function sampleError(est: number, lo: number, hi: number): number {
  const rel = (x: number) => (x === 0 ? (est === 0 ? 0 : Infinity) : Math.abs(est - x) / Math.abs(x));
  return Math.min(rel(lo), rel(hi));
}

export interface Sample {
  app: string;
  type: string;
  ms: number;
  value: number;
}

/** Inserts samples and logs their windows like the writer does, in one transaction. */
export async function writeLikeWriter(pool: Pool, samples: Sample[]): Promise<number> {
  return withTransaction(pool, async (c) => {
    await c.query(
      `INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
       SELECT a, t, to_timestamp(ms / 1000.0), v, 'instance' FROM unnest($1::text[], $2::text[], $3::float8[], $4::real[]) AS u(a, t, ms, v)`,
      [samples.map((s) => s.app), samples.map((s) => s.type), samples.map((s) => s.ms), samples.map((s) => s.value)],
    );
    const touched = new TouchedWindows();
    for (const s of samples) {
      touched.add({ app: s.app, ts: { ms: s.ms, iso: new Date(s.ms).toISOString() }, [s.type]: s.value } as unknown as StatsMessage);
    }
    return logTouched(c, touched);
  });
}

/** The writer's invalidation call as a statement of its own, in the transaction that wrote the rows; returns how many windows it logged. */
export async function logTouched(client: PoolClient, touched: TouchedWindows): Promise<number> {
  const c = touched.call(1);
  if (!c) return 0;
  const { rows } = await client.query<{ n: number }>(`SELECT ${c.sql} AS n`, c.params);
  return rows[0]?.n ?? 0;
}

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;
// A direct aggregation of the raw rows per window: count, sum, min, max and the sketch (keys of
// the raw values, counted), and p50/p95/p99 read from that sketch, clamped to [min, max].
const direct = (width: string, bin: string, upto: string) => `
  SELECT width, bucket, app_name, metric_type, count, sum, min, max,
         greatest(min, least(max, p[1])) AS p50, greatest(min, least(max, p[2])) AS p95, greatest(min, least(max, p[3])) AS p99, keys, counts
    FROM (SELECT *, orchestry_sketch_quantiles(keys, counts, ARRAY[0.5, 0.95, 0.99]) AS p
            FROM (SELECT '${width}'::text AS width, bucket, app_name, metric_type, sum(c)::bigint AS count, sum(sm) AS sum, min(mn) AS min, max(mx) AS max,
                         array_agg(k ORDER BY k) AS keys, array_agg(c ORDER BY k) AS counts
                    FROM (SELECT date_bin('${bin}', timestamp, ${ORIGIN}) AS bucket, app_name::text, metric_type::text, orchestry_sketch_key(value) AS k,
                                 count(*) AS c, sum(value::float8) AS sm, min(value) AS mn, max(value) AS mx
                            FROM metrics WHERE aggregation_level = 'instance' AND timestamp < ${upto} GROUP BY 1, 2, 3, 4) keyed
                   GROUP BY 1, 2, 3, 4) agg) q`;

/** Windows ("width epoch app type") where metric_rollups and a direct aggregation of the raw rows differ, either way. */
export async function staleWindows(pool: Pool): Promise<string[]> {
  const w = `(SELECT computed_through FROM rollup_state)`;
  const { rows } = await pool.query<{ key: string }>(`
    WITH d AS (${direct('1m', '1 minute', w)} UNION ALL ${direct('1h', '1 hour', `date_bin('1 hour', ${w}, ${ORIGIN})`)}),
         r AS (SELECT width::text, bucket, app_name::text, metric_type::text, count, sum, min, max, p50, p95, p99, sketch_keys, sketch_counts FROM metric_rollups)
    SELECT DISTINCT concat_ws(' ', width, extract(epoch FROM bucket)::bigint, app_name, metric_type) AS key
      FROM ((SELECT * FROM d EXCEPT ALL SELECT * FROM r) UNION ALL (SELECT * FROM r EXCEPT ALL SELECT * FROM d)) x ORDER BY 1`);
  return rows.map((r) => r.key);
}

/**
 * Asserts orchestry_app_metrics_window(app, minutes) against the raw rows, read in one snapshot:
 * count, min and max equal, avg within 1e-9 (of the mean magnitude, for windows whose mean is near
 * zero), p50/p95/p99 within alpha of the interval percentile_cont interpolates in and, when the
 * answer came from the sketch, of one of its two samples. Returns the worst errors seen.
 */
export async function assertWindowMatches(pool: Pool, app: string, minutes: number, what = app): Promise<{ interval: number; sample: number; sketched: number }> {
  const client = await pool.connect();
  let got: Record<string, number | string>[];
  let exact: ExactWindow[];
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    exact = await exactWindow(client, app, minutes);
    got = (await client.query(`SELECT * FROM orchestry_app_metrics_window($1, $2)`, [app, minutes])).rows;
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const worst = { interval: 0, sample: 0, sketched: 0 };
  const tol = ALPHA * (1 + 1e-9);
  assert.deepEqual(got.map((g) => g.metric_type), exact.map((x) => x.metric_type), `${what}, ${minutes} min: metric types`);
  for (const [i, g] of got.entries()) {
    const x = exact[i]!;
    assert.equal(Number(g.data_points), x.n, `${what}, ${minutes} min: count`);
    assert.equal(g.min_value, x.min, `${what}: min`);
    assert.equal(g.max_value, x.max, `${what}: max`);
    const avg = Number(g.avg_value);
    assert.ok(Math.abs(avg - x.avg) <= 1e-9 * Math.max(Math.abs(x.avg), x.meanAbs), `${what}: avg ${avg} vs ${x.avg}`);
    const est = [g.p50_value, g.p95_value, g.p99_value].map(Number);
    for (const [j, q] of QS.entries()) {
      const e1 = intervalError(est[j]!, x.lo[j]!, x.hi[j]!);
      worst.interval = Math.max(worst.interval, e1);
      assert.ok(e1 <= tol, `${what}, ${minutes} min, n ${x.n}: p${q * 100} ${est[j]} vs samples [${x.lo[j]}, ${x.hi[j]}] (error ${e1})`);
      if (est[j] === x.cont[j]) continue; // read wholly from raw rows: percentile_cont itself
      const e2 = sampleError(est[j]!, x.lo[j]!, x.hi[j]!);
      worst.sketched++;
      worst.sample = Math.max(worst.sample, e2);
      assert.ok(e2 <= tol, `${what}, ${minutes} min: sketched p${q * 100} ${est[j]} vs samples [${x.lo[j]}, ${x.hi[j]}] (error ${e2})`);
    }
  }
  return worst;
}
