// Hourly event summaries in events_compressed (the seed's compress_old_events done correctly):
// per (hour, app, event_type) the event_count, severity_counts ({"info": 3, ...}) and up to 5
// latest distinct messages (newest first). An idempotent upsert: rerunning an hour gives the same
// row, and a row is rewritten only when its summary changed. What stays in PostgreSQL of an events
// day that leaves it: retention and the archive summarise the day first; the compress-events job
// keeps recent hours summarised on its schedule.
import type { Pool } from '../db/pool.ts';
import { dayRange } from '../partitions/index.ts';

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

/** Summarises the events of the UTC day `day` (YYYY-MM-DD); returns rows written. */
export async function summariseEventsDay(pool: Pool, day: string): Promise<number> {
  const { from, to } = dayRange(day);
  return compressEvents(pool, from, to);
}
