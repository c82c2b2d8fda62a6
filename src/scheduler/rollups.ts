// Job `rollups`: 1-minute and 1-hour windows per (app, metric_type) of instance-level metrics
// (count, avg, min, max, p50, p95, p99 with percentile_cont, as the seed's
// get_app_metrics_window), kept in metric_rollups and mirrored as metrics rows with
// aggregation_level = 'app' (value = avg, labels = {window, count, min, max, p50, p95, p99}).
//
// Incremental: everything before the watermark is done; each run recomputes every window from
// watermark - ROLLUP_GRACE_MINUTES (late rows) up to the last complete minute (1m) / hour (1h).
// Idempotent: a window is rewritten only when its numbers changed (upsert ... WHERE IS DISTINCT
// FROM), and its app row in metrics is replaced in the same statement, so a rerun changes nothing.
// The first run starts at the oldest instance-level day inside retention; work goes in chunks of
// CHUNK_HOURS, each its own transaction that also advances the watermark.
import { z } from 'zod';
import type { PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { defineJob, checkAborted } from './job.ts';
import { ensureDayPartitions } from './partitions.ts';

const CHUNK_HOURS = 6;
const MIN = 60_000;
const HOUR = 3_600_000;
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;

const WINDOW_SQL = `
WITH agg AS (
  SELECT date_bin($1::interval, timestamp, timestamptz '2000-01-01 00:00:00+00') AS bucket, app_name, metric_type,
         count(*) AS count, avg(value) AS avg, min(value) AS min, max(value) AS max,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99,
         max(unit) AS unit
    FROM metrics
   WHERE aggregation_level = 'instance' AND timestamp >= $2 AND timestamp < $3
   GROUP BY 1, 2, 3
), up AS (
  INSERT INTO metric_rollups AS r (width, bucket, app_name, metric_type, count, avg, min, max, p50, p95, p99, unit)
  SELECT $4, bucket, app_name, metric_type, count, avg, min, max, p50, p95, p99, unit FROM agg
  ON CONFLICT (width, app_name, metric_type, bucket) DO UPDATE
     SET count = excluded.count, avg = excluded.avg, min = excluded.min, max = excluded.max, p50 = excluded.p50,
         p95 = excluded.p95, p99 = excluded.p99, unit = excluded.unit, computed_at = now()
   WHERE (r.count, r.avg, r.min, r.max, r.p50, r.p95, r.p99, r.unit)
         IS DISTINCT FROM (excluded.count, excluded.avg, excluded.min, excluded.max, excluded.p50, excluded.p95, excluded.p99, excluded.unit)
  RETURNING r.*
), del AS (
  DELETE FROM metrics m USING up
   WHERE m.aggregation_level = 'app' AND m.timestamp >= $2 AND m.timestamp < $3
     AND m.timestamp = up.bucket AND m.app_name = up.app_name AND m.metric_type = up.metric_type
     AND m.labels->>'window' = up.width
), ins AS (
  INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
  SELECT app_name, metric_type, bucket, avg,
         jsonb_build_object('window', width, 'count', count, 'min', min, 'max', max, 'p50', p50, 'p95', p95, 'p99', p99),
         unit, 'app'
    FROM up
  RETURNING 1
)
SELECT (SELECT count(*) FROM up)::int AS changed`;

/** Recomputes the windows of `width` starting in [from, to); returns how many changed. */
export async function rollupRange(client: PoolClient, width: '1m' | '1h', from: Date, to: Date): Promise<number> {
  if (from >= to) return 0;
  const { rows } = await client.query<{ changed: number }>(WINDOW_SQL, [width === '1m' ? '1 minute' : '1 hour', from, to, width]);
  return rows[0]?.changed ?? 0;
}

const days = (from: number, to: number) => {
  const out: string[] = [];
  for (let d = floorTo(from, 86_400_000); d < to; d += 86_400_000) out.push(new Date(d).toISOString().slice(0, 10));
  return out;
};

export const rollupsJob = defineJob({
  name: 'rollups',
  description: '1-minute and 1-hour windows per app and metric type (count, avg, min, max, p50, p95, p99), incremental with a grace period for late rows',
  params: z.strictObject({ from: z.iso.datetime({ offset: true }).optional() }),
  async run(ctx, params) {
    const { pool, config } = ctx;
    const { rows } = await pool.query<{ now: Date; watermark: Date | null }>(
      'SELECT now() AS now, (SELECT watermark FROM rollup_state) AS watermark',
    );
    const now = rows[0]!.now.getTime();
    const wm = rows[0]!.watermark?.getTime();
    const to = floorTo(now, MIN);
    const oldest = floorTo(now - config.retention.metricsInstanceDays * 86_400_000, HOUR);
    let start = params.from ? Date.parse(params.from) : wm !== undefined ? wm - config.rollupGraceMinutes * MIN : oldest;
    start = floorTo(Math.max(start, oldest), MIN);
    await ensureDayPartitions(pool, 'metric_rollups', days(floorTo(start, HOUR), to));
    await ensureDayPartitions(pool, 'metrics', days(floorTo(start, HOUR), to), ['app']);
    let changed = 0;
    for (let a = start; a < to; ) {
      checkAborted(ctx.signal);
      const b = Math.min(to, floorTo(a, HOUR) + CHUNK_HOURS * HOUR);
      changed += await withTransaction(pool, async (c) => {
        const n1 = await rollupRange(c, '1m', new Date(a), new Date(b));
        const n2 = await rollupRange(c, '1h', new Date(floorTo(a, HOUR)), new Date(floorTo(b, HOUR)));
        await c.query(
          `INSERT INTO rollup_state (id, watermark) VALUES (true, $1)
           ON CONFLICT (id) DO UPDATE SET watermark = greatest(rollup_state.watermark, excluded.watermark), updated_at = now()`,
          [new Date(b)],
        );
        return n1 + n2;
      });
      ctx.progress({ through: new Date(b).toISOString(), done: b - start, total: to - start, changed });
      a = b;
    }
    return { rowsAffected: changed, details: { from: new Date(start).toISOString(), to: new Date(to).toISOString() } };
  },
});
