-- Daily partitions for metrics and events, stored consumer offsets (exactly-once), and the
-- seed's events_compressed (its compress_old_events never created it).

-- Creates the daily partition of `parent` (metrics or events) that holds `day` (a UTC day) when
-- it is missing, and returns its name (<parent>_pYYYYMMDD). Identifiers go through format(%I).
-- Safe when several sessions call it at once.
CREATE FUNCTION orchestry_ensure_day_partition(parent text, day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := parent || '_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
    IF parent NOT IN ('metrics', 'events') THEN
        RAISE EXCEPTION 'not a partitioned orchestry table: %', parent USING ERRCODE = '22023';
    END IF;
    IF to_regclass(format('%I', part)) IS NOT NULL THEN
        RETURN part;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, lo, hi);
    EXCEPTION WHEN duplicate_table THEN
        NULL; -- another session made it first
    END;
    RETURN part;
END;
$$;

-- Today (UTC), yesterday and the next three days, so ingestion works before the scheduler runs.
SELECT orchestry_ensure_day_partition(t, d::date)
FROM unnest(ARRAY['metrics', 'events']) AS t,
     generate_series((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 3, interval '1 day') AS d;

-- The next Kafka offset to store per topic-partition. Each ingest batch advances it with a
-- compare-and-set in the same transaction as its rows; Kafka's committed offset follows it.
-- Keyed without the consumer group: a renamed group resumes where the database is, not twice.
CREATE TABLE ingest_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL CHECK (next_offset >= 0),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_by TEXT,
    PRIMARY KEY (topic, partition)
);

-- Hourly summaries of old events (the seed's compress_old_events, done correctly).
CREATE TABLE events_compressed (
    hour_bucket TIMESTAMP WITH TIME ZONE NOT NULL,
    app_name VARCHAR(253),
    event_type VARCHAR(50) NOT NULL,
    event_count BIGINT NOT NULL,
    severity_counts JSONB NOT NULL,
    sample_messages TEXT[] NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT events_compressed_key UNIQUE NULLS NOT DISTINCT (hour_bucket, app_name, event_type)
);
CREATE INDEX idx_events_compressed_app_hour ON events_compressed(app_name, hour_bucket DESC);
