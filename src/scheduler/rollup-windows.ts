// The rollups job's three window computations, each one statement: 1 m windows of a time range
// from raw rows, 1 m windows of logged invalidations from raw rows, 1 h windows of given hours by
// merging their 1 m windows. Each upserts only what changed (IS DISTINCT FROM).
import type { PoolClient } from '../db/pool.ts';

const ORIGIN = `timestamptz '2000-01-01 00:00:00+00'`;

/** Raw rows (`source`: FROM ... WHERE ... with m = metrics) -> per-window sketch and figures. */
const fromRaw = (bucket: string, source: string) => `
sketched AS (
  SELECT ${bucket} AS bucket, m.app_name, m.metric_type, count(*)::bigint AS count, sum(m.value::float8) AS sum,
         min(m.value) AS min, max(m.value) AS max, max(m.unit) AS unit,
         orchestry_sketch_of_keys(array_agg(orchestry_sketch_key(m.value))) AS sk
  ${source}
  GROUP BY 1, 2, 3
), agg AS (
  SELECT bucket, app_name, metric_type, count, sum, min, max, unit, (sk).keys AS keys, (sk).counts AS counts FROM sketched
)`;

// Mirrors changed windows into metrics as aggregation_level = 'app' rows (ROLLUP_MIRROR_APP_METRICS).
const MIRROR = `, del AS (
  DELETE FROM metrics m USING up
   WHERE m.aggregation_level = 'app' AND m.timestamp = up.bucket AND m.app_name = up.app_name
     AND m.metric_type = up.metric_type AND m.labels->>'window' = up.width
), ins AS (
  INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
  SELECT app_name, metric_type, bucket, avg,
         jsonb_build_object('window', width, 'count', count, 'min', min, 'max', max, 'p50', p50, 'p95', p95, 'p99', p99), unit, 'app'
    FROM up
)`;

/** WITH <ctes ending in agg>, up (the upsert of agg as `$1`-wide windows) [, mirror] SELECT changed, <extra>. */
const upsert = (ctes: string, mirror: boolean, extra: string) => `
WITH ${ctes}, q AS (
  SELECT agg.*, orchestry_sketch_quantiles(agg.keys, agg.counts, ARRAY[0.5, 0.95, 0.99]) AS p FROM agg
), up AS (
  INSERT INTO metric_rollups AS r (width, bucket, app_name, metric_type, count, sum, avg, min, max, p50, p95, p99, unit, sketch_keys, sketch_counts)
  SELECT $1, bucket, app_name, metric_type, count, sum, sum / count, min, max,
         greatest(min, least(max, p[1])), greatest(min, least(max, p[2])), greatest(min, least(max, p[3])), unit, keys, counts
    FROM q
  ON CONFLICT (width, app_name, metric_type, bucket) DO UPDATE
     SET count = excluded.count, sum = excluded.sum, avg = excluded.avg, min = excluded.min, max = excluded.max,
         p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99, unit = excluded.unit,
         sketch_keys = excluded.sketch_keys, sketch_counts = excluded.sketch_counts, computed_at = now()
   WHERE (r.count, r.sum, r.min, r.max, r.unit, r.sketch_keys, r.sketch_counts)
         IS DISTINCT FROM (excluded.count, excluded.sum, excluded.min, excluded.max, excluded.unit, excluded.sketch_keys, excluded.sketch_counts)
  RETURNING r.*
)${mirror ? MIRROR : ''}
SELECT (SELECT count(*) FROM up)::int AS changed, ${extra}`;

const ROWS_READ = '(SELECT coalesce(sum(count), 0) FROM agg)::bigint AS rows_read';

const rangeSql = (mirror: boolean) =>
  upsert(
    fromRaw(`date_bin('1 minute', m.timestamp, ${ORIGIN})`, `FROM metrics m WHERE m.aggregation_level = 'instance' AND m.timestamp >= $2 AND m.timestamp < $3`),
    mirror,
    ROWS_READ,
  );

const invalidatedSql = (mirror: boolean) =>
  upsert(
    `inv AS (
  DELETE FROM rollup_invalidations i
   WHERE (i.app_name, i.metric_type, i.bucket) IN (
         SELECT app_name, metric_type, bucket FROM rollup_invalidations ORDER BY bucket, app_name, metric_type LIMIT $2)
  RETURNING i.app_name, i.metric_type, i.bucket
), ${fromRaw(
      'inv.bucket',
      `FROM inv JOIN metrics m ON m.aggregation_level = 'instance' AND m.app_name = inv.app_name AND m.metric_type = inv.metric_type
         AND m.timestamp >= inv.bucket AND m.timestamp < inv.bucket + interval '1 minute'`,
    )}`,
    mirror,
    `${ROWS_READ}, (SELECT count(*) FROM inv)::int AS taken,
     (SELECT coalesce(array_agg(DISTINCT date_bin('1 hour', bucket, ${ORIGIN})), '{}') FROM inv) AS hours`,
  );

const hoursSql = (mirror: boolean) =>
  upsert(
    `merged AS (
  SELECT h.h AS bucket, r.app_name, r.metric_type, sum(r.count)::bigint AS count, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
         max(r.unit) AS unit, orchestry_sketch_union(r.sketch_keys, r.sketch_counts) AS sk
  FROM unnest($2::timestamptz[]) AS h(h)
  JOIN metric_rollups r ON r.width = '1m' AND r.bucket >= h.h AND r.bucket < h.h + interval '1 hour'
  GROUP BY 1, 2, 3
), agg AS (
  SELECT bucket, app_name, metric_type, count, sum, min, max, unit, (sk).keys AS keys, (sk).counts AS counts FROM merged
)`,
    mirror,
    ROWS_READ,
  );

export interface WindowResult {
  changed: number;
  /** Raw rows (or, for hours, samples of the merged 1 m windows) the statement aggregated. */
  rowsRead: number;
}

/** Recomputes from raw rows the 1 m windows starting in [from, to). */
export async function rollupMinutes(client: PoolClient, from: Date, to: Date, mirror: boolean): Promise<WindowResult> {
  const { rows } = await client.query<{ changed: number; rows_read: string }>(rangeSql(mirror), ['1m', from, to]);
  return { changed: rows[0]!.changed, rowsRead: Number(rows[0]!.rows_read) };
}

/**
 * Takes (deletes) up to `limit` logged invalidations and recomputes their 1 m windows from raw
 * rows, in one statement: an invalidation logged meanwhile stays for the next call.
 */
export async function rollupInvalidated(client: PoolClient, limit: number, mirror: boolean): Promise<WindowResult & { taken: number; hours: Date[] }> {
  const { rows } = await client.query<{ changed: number; rows_read: string; taken: number; hours: Date[] }>(invalidatedSql(mirror), ['1m', limit]);
  const r = rows[0]!;
  return { changed: r.changed, rowsRead: Number(r.rows_read), taken: r.taken, hours: r.hours };
}

/** Recomputes the 1 h windows of `hours` (window starts) by merging their 1 m windows. */
export async function rollupHours(client: PoolClient, hours: Date[], mirror: boolean): Promise<WindowResult> {
  if (hours.length === 0) return { changed: 0, rowsRead: 0 };
  const { rows } = await client.query<{ changed: number; rows_read: string }>(hoursSql(mirror), ['1h', hours]);
  return { changed: rows[0]!.changed, rowsRead: Number(rows[0]!.rows_read) };
}
