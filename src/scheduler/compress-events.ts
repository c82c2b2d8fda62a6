// Job `compress-events`: the seed's compress_old_events done correctly. Hourly summaries per
// (hour, app, event_type) into events_compressed: event_count, severity_counts ({"info": 3, ...}),
// and up to 5 latest distinct messages (newest first). An idempotent upsert: rerunning an hour
// gives the same row, and a row is rewritten only when its summary changed. Retention and archive
// summarise an event partition's day before it goes.
import { z } from 'zod';
import type { Pool } from '../db/pool.ts';
import { defineJob, duration } from './job.ts';

const SUMMARY_SQL = `
WITH ev AS (
  SELECT date_bin('1 hour', timestamp, timestamptz '2000-01-01 00:00:00+00') AS hb, app_name, event_type, severity, message, timestamp
    FROM events WHERE timestamp >= $1 AND timestamp < $2
), sev AS (
  SELECT hb, app_name, event_type, coalesce(severity, 'unknown') AS severity, count(*) AS n FROM ev GROUP BY 1, 2, 3, 4
), counts AS (
  SELECT hb, app_name, event_type, sum(n)::bigint AS event_count, jsonb_object_agg(severity, n) AS severity_counts
    FROM sev GROUP BY 1, 2, 3
), latest AS (
  SELECT hb, app_name, event_type, message,
         row_number() OVER (PARTITION BY hb, app_name, event_type ORDER BY max(timestamp) DESC, message) AS rn
    FROM ev GROUP BY hb, app_name, event_type, message
), samples AS (
  SELECT hb, app_name, event_type, array_agg(message ORDER BY rn) AS sample_messages
    FROM latest WHERE rn <= 5 GROUP BY 1, 2, 3
), up AS (
  INSERT INTO events_compressed AS ec (hour_bucket, app_name, event_type, event_count, severity_counts, sample_messages)
  SELECT c.hb, c.app_name, c.event_type, c.event_count, c.severity_counts, s.sample_messages
    FROM counts c JOIN samples s
      ON s.hb = c.hb AND s.app_name IS NOT DISTINCT FROM c.app_name AND s.event_type = c.event_type
  ON CONFLICT ON CONSTRAINT events_compressed_key DO UPDATE
     SET event_count = excluded.event_count, severity_counts = excluded.severity_counts,
         sample_messages = excluded.sample_messages, created_at = now()
   WHERE (ec.event_count, ec.severity_counts, ec.sample_messages)
         IS DISTINCT FROM (excluded.event_count, excluded.severity_counts, excluded.sample_messages)
  RETURNING 1
)
SELECT count(*)::int AS n FROM up`;

/** Summarises the events in [from, to) (whole hours) into events_compressed; returns rows written. */
export async function compressEvents(pool: Pool, from: Date, to: Date): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(SUMMARY_SQL, [from, to]);
  return rows[0]?.n ?? 0;
}

export const compressEventsJob = defineJob({
  name: 'compress-events',
  description: 'hourly event summaries (count, counts per severity, 5 latest distinct messages) into events_compressed',
  params: z.strictObject({ since: duration.optional() }),
  async run(ctx, params) {
    const since = params.since ?? 2 * 86_400_000;
    // From the start of the UTC day `since` ago up to the current (incomplete) hour.
    const { rows } = await ctx.pool.query<{ from: Date; to: Date }>(
      `SELECT date_bin('1 day', now() - make_interval(secs => $1::float8 / 1000), timestamptz '2000-01-01 00:00:00+00') AS from,
              date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') AS to`,
      [since],
    );
    const { from, to } = rows[0]!;
    let n = 0;
    // Hour by hour in steps of a day keeps each statement short.
    for (let a = from.getTime(); a < to.getTime(); a += 86_400_000) {
      n += await compressEvents(ctx.pool, new Date(a), new Date(Math.min(a + 86_400_000, to.getTime())));
      ctx.progress({ through: new Date(Math.min(a + 86_400_000, to.getTime())).toISOString(), written: n });
    }
    return { rowsAffected: n, details: { from: from.toISOString(), to: to.toISOString() } };
  },
});
