// Job `rollups`: 1-minute and 1-hour windows per (app, metric_type) of instance-level metrics in
// metric_rollups: count, sum, min, max, a mergeable quantile sketch (migration 000009) and the
// p50/p95/p99 it gives. Exact however late rows come, at a cost that follows what arrived:
//   (a) advance the watermark to the current minute, in a short transaction under the exclusive
//       rollup lock (writers log rows below it as invalidations, under the shared lock);
//   (b) compute the 1 m windows of the newly covered minutes from raw rows (hour by hour, each
//       chunk advancing computed_through in its own transaction, so a crash resumes);
//   (c) take the logged invalidations and recompute exactly those 1 m windows from raw rows;
//   (d) recompute the complete 1 h windows of the hours (b) and (c) touched, from their 1 m windows.
// A window is written only when it changed, so a rerun with nothing new writes nothing. Last, the
// BRIN ranges of what the run read are summarized, so that the next run's reads stop at its minutes.
// Mirroring windows into metrics as aggregation_level = 'app' rows is opt-in
// (ROLLUP_MIRROR_APP_METRICS). ROLLUP_GRACE_MINUTES (default 0) is only a safety net: when set,
// each run also recomputes that many recent minutes; correctness does not depend on it.
import { z } from 'zod';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { DAY_MS, dayOf, daysBetween, ensureDayPartitions, partitionName } from '../partitions/index.ts';
import { defineJob, checkAborted, type JobContext } from './job.ts';
import { rollupHours, rollupInvalidated, rollupMinutes } from './rollup-windows.ts';

const MIN = 60_000;
const HOUR = 3_600_000;
/** Invalidations taken per statement, and 1 h windows recomputed per statement. */
const INVALIDATIONS_PER_STEP = 5_000;
const HOURS_PER_STEP = 24;
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;

/**
 * A transaction of the job whose statements get ROLLUP_WORK_MEM_MB of work_mem: at the server's
 * default (4 MB) the per-window aggregates spill to disk and a minute of raw rows takes twice as long.
 */
export function withWorkMem<T>(pool: Pool, workMemMb: number, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, fn, { work_mem: `${workMemMb}MB` });
}
const inJobTransaction = <T>(ctx: JobContext, fn: (c: PoolClient) => Promise<T>) => withWorkMem(ctx.pool, ctx.config.rollupWorkMemMb, fn);

interface Tally {
  /** BRIN page ranges summarized after the reads. */
  summarized: number;
  rowsRead: number;
  changed1m: number;
  changed1h: number;
  invalidated: number;
}

/** Step (a): returns how far 1 m windows are computed (null: never) and the new watermark. */
async function advanceWatermark(pool: Pool): Promise<{ through: number | null; watermark: number }> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ computed_through: Date | null; watermark: Date }>('SELECT * FROM orchestry_advance_rollup_watermark()');
    return { through: rows[0]!.computed_through?.getTime() ?? null, watermark: rows[0]!.watermark.getTime() };
  }, { lock_timeout: '10s' });
}

/**
 * After the reads: summarizes the page ranges of metrics' BRIN index on timestamp that are not
 * summarized yet, in the instance-level leaves of the days the run read (only those: a VACUUM of
 * another partition neither waits nor is waited for). The raw reads find their rows through that index, and a page range without a
 * summary matches every time range; ranges are summarized by VACUUM, which an append-only
 * partition gets after each 20 % of growth (autovacuum_vacuum_insert_scale_factor). Unsummarized,
 * a read of the last minute read every page written since the partition's last VACUUM: in a day
 * partition, up to a fifth of the day, minute after minute. Summarized after each run, while the
 * pages the run read are still cached, the next run reads what was written since. It takes each
 * partition's SHARE UPDATE EXCLUSIVE lock, which writers do not take; when a VACUUM holds it
 * (lock_timeout), or the job's user does not own the table, the next reads go on without.
 */
async function summarizeTimeIndex(ctx: JobContext, days: string[]): Promise<number> {
  try {
    return await withTransaction(ctx.pool, async (c) => {
      const { rows } = await c.query<{ ranges: number }>(
        `SELECT coalesce(sum(brin_summarize_new_values(p.relid)), 0)::int AS ranges
           FROM pg_partition_tree('idx_metrics_timestamp_brin'::regclass) p
           JOIN pg_index i ON i.indexrelid = p.relid JOIN pg_class t ON t.oid = i.indrelid
          WHERE p.isleaf AND t.relname = ANY($1)`,
        [days.map((d) => partitionName('metrics', d, 'instance'))],
      );
      return rows[0]!.ranges;
    }, { lock_timeout: '1s' });
  } catch (err) {
    // A VACUUM holding the lock summarizes too (info); anything else, e.g. a user that does not own the table, is the operator's to fix.
    const busy = (err as { code?: string }).code === '55P03';
    ctx.logger[busy ? 'info' : 'warn']({ err }, 'rollups: could not summarize the BRIN index on metrics.timestamp; the next run reads without');
    return 0;
  }
}

/** Step (b): 1 m windows of [start, to) from raw rows, an hour per transaction. */
async function coverMinutes(ctx: JobContext, start: number, to: number, hours: Set<number>, t: Tally): Promise<void> {
  const mirror = ctx.config.rollupMirrorAppMetrics;
  for (let a = start; a < to; ) {
    checkAborted(ctx.signal);
    const b = Math.min(to, floorTo(a, HOUR) + HOUR);
    const r = await inJobTransaction(ctx, async (c) => {
      const res = await rollupMinutes(c, new Date(a), new Date(b), mirror);
      await c.query('UPDATE rollup_state SET computed_through = greatest(coalesce(computed_through, $1), $1)', [new Date(b)]);
      return res;
    });
    t.rowsRead += r.rowsRead;
    t.changed1m += r.changed;
    hours.add(floorTo(a, HOUR));
    ctx.progress({ step: 'minutes', through: new Date(b).toISOString(), ...t });
    a = b;
  }
}

/** Step (c): the logged invalidations, a batch per transaction, until none is left. */
async function coverInvalidations(ctx: JobContext, hours: Set<number>, t: Tally): Promise<void> {
  const mirror = ctx.config.rollupMirrorAppMetrics;
  for (;;) {
    checkAborted(ctx.signal);
    const { rows } = await ctx.pool.query<{ day: Date }>(
      `SELECT DISTINCT date_bin('1 day', bucket, timestamptz '2000-01-01 00:00:00+00') AS day
         FROM (SELECT bucket FROM rollup_invalidations ORDER BY bucket, app_name, metric_type LIMIT $1) i ORDER BY 1`,
      [INVALIDATIONS_PER_STEP],
    );
    if (rows.length === 0) return;
    const days = rows.map((r) => dayOf(r.day.getTime()));
    await ensureDayPartitions(ctx.pool, 'metric_rollups', days);
    if (mirror) await ensureDayPartitions(ctx.pool, 'metrics', days, ['app']);
    const r = await inJobTransaction(ctx, (c) => rollupInvalidated(c, INVALIDATIONS_PER_STEP, mirror));
    t.rowsRead += r.rowsRead;
    t.changed1m += r.changed;
    t.invalidated += r.taken;
    for (const h of r.hours) hours.add(h.getTime());
    ctx.progress({ step: 'invalidations', ...t });
    if (r.taken < INVALIDATIONS_PER_STEP) return;
  }
}

/** Step (d): the complete hours among `hours`, merged from their 1 m windows. */
async function coverHours(ctx: JobContext, hours: Set<number>, watermark: number, t: Tally): Promise<void> {
  const complete = [...hours].filter((h) => h + HOUR <= watermark).sort((x, y) => x - y);
  for (let i = 0; i < complete.length; i += HOURS_PER_STEP) {
    checkAborted(ctx.signal);
    const batch = complete.slice(i, i + HOURS_PER_STEP).map((h) => new Date(h));
    const r = await inJobTransaction(ctx, (c) => rollupHours(c, batch, ctx.config.rollupMirrorAppMetrics));
    t.changed1h += r.changed;
  }
}

export const rollupsJob = defineJob({
  name: 'rollups',
  description: '1-minute and 1-hour windows per app and metric type (count, sum, min, max, quantile sketch, p50/p95/p99): new minutes and logged late rows only',
  params: z.strictObject({ from: z.iso.datetime({ offset: true }).optional() }),
  async run(ctx, params) {
    const { pool, config } = ctx;
    const { through, watermark } = await advanceWatermark(pool);
    const oldest = floorTo(watermark - config.retention.metricsInstanceDays * DAY_MS, HOUR);
    let start = through ?? oldest;
    if (params.from) start = Math.min(start, Date.parse(params.from));
    if (config.rollupGraceMinutes > 0) start = Math.min(start, watermark - config.rollupGraceMinutes * MIN);
    start = floorTo(Math.max(start, oldest), MIN);
    const days = start < watermark ? daysBetween(floorTo(start, HOUR), watermark) : [];
    if (days.length > 0) {
      await ensureDayPartitions(pool, 'metric_rollups', days);
      if (config.rollupMirrorAppMetrics) await ensureDayPartitions(pool, 'metrics', days, ['app']);
    }
    const t: Tally = { summarized: 0, rowsRead: 0, changed1m: 0, changed1h: 0, invalidated: 0 };
    const hours = new Set<number>();
    await coverMinutes(ctx, start, watermark, hours, t);
    await coverInvalidations(ctx, hours, t);
    await coverHours(ctx, hours, watermark, t);
    if (days.length > 0) t.summarized = await summarizeTimeIndex(ctx, days);
    return {
      rowsAffected: t.changed1m + t.changed1h,
      details: { from: new Date(start).toISOString(), to: new Date(watermark).toISOString(), ...t },
    };
  },
});
