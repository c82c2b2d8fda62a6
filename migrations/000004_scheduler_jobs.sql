-- The scheduler's tables (job history, rollups, archive ledger) and a second partition level for
-- metrics so that instance-level and app-level rows expire separately without any DELETE:
--
--   metrics                          RANGE (timestamp), one partition per UTC day
--     metrics_pYYYYMMDD              LIST (aggregation_level)
--       metrics_pYYYYMMDD_instance   'instance'          (RETENTION_METRICS_INSTANCE_DAYS)
--       metrics_pYYYYMMDD_app        'app', 'system'     (RETENTION_METRICS_APP_DAYS)
--
-- A unique constraint of a partitioned table must hold every partition key, so the primary key
-- becomes (id, timestamp, aggregation_level) and aggregation_level NOT NULL (its default stays
-- 'instance'; the seed never stores NULL there). Writers keep COPYing into `metrics`.

ALTER TABLE metrics ALTER COLUMN aggregation_level SET NOT NULL;
ALTER TABLE metrics DROP CONSTRAINT metrics_pkey;
ALTER TABLE metrics ADD PRIMARY KEY (id, timestamp, aggregation_level);

-- Rollup windows of instance-level metrics per (app, metric_type): width '1m' or '1h', bucket =
-- window start (UTC-aligned). Daily partitions by bucket, dropped at app-level retention.
CREATE TABLE metric_rollups (
    width VARCHAR(4) NOT NULL CHECK (width IN ('1m', '1h')),
    bucket TIMESTAMP WITH TIME ZONE NOT NULL,
    app_name VARCHAR(253) NOT NULL,
    metric_type VARCHAR(50) NOT NULL,
    count BIGINT NOT NULL,
    avg DOUBLE PRECISION NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    p50 DOUBLE PRECISION NOT NULL,
    p95 DOUBLE PRECISION NOT NULL,
    p99 DOUBLE PRECISION NOT NULL,
    unit VARCHAR(20),
    computed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (width, app_name, metric_type, bucket)
) PARTITION BY RANGE (bucket);

-- Everything before `watermark` has been rolled up (windows in [watermark - grace, watermark)
-- are recomputed on every run to take late rows).
CREATE TABLE rollup_state (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    watermark TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

-- Creates what is missing of the daily partition of `parent` holding `day` (UTC) and returns its
-- name. For metrics, `levels` ('instance', 'app') says which leaves to make. Tables are made
-- standalone and then ATTACHed: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, which does not
-- block concurrent INSERT/COPY (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE).
CREATE FUNCTION orchestry_ensure_day_partition(parent text, day date, levels text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := parent || '_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
    lvl text;
    leaf text;
BEGIN
    IF parent NOT IN ('metrics', 'events', 'metric_rollups') THEN
        RAISE EXCEPTION 'not a partitioned orchestry table: %', parent USING ERRCODE = '22023';
    END IF;
    IF to_regclass(format('%I', part)) IS NULL THEN
        BEGIN
            IF parent = 'metrics' THEN
                EXECUTE format('CREATE TABLE %I (LIKE metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY LIST (aggregation_level)', part);
            ELSE
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
            END IF;
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
        EXCEPTION WHEN duplicate_table THEN
            NULL; -- another session made it first (its transaction attached it too)
        END;
    END IF;
    IF parent = 'metrics' AND EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(format('%I', part))) THEN
        FOREACH lvl IN ARRAY coalesce(levels, ARRAY['instance', 'app']) LOOP
            IF lvl NOT IN ('instance', 'app') THEN
                RAISE EXCEPTION 'unknown metrics level: %', lvl USING ERRCODE = '22023';
            END IF;
            leaf := part || '_' || lvl;
            CONTINUE WHEN to_regclass(format('%I', leaf)) IS NOT NULL;
            BEGIN
                EXECUTE format('CREATE TABLE %I (LIKE metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', leaf);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)', part, leaf,
                    CASE lvl WHEN 'instance' THEN quote_literal('instance') ELSE quote_literal('app') || ', ' || quote_literal('system') END);
            EXCEPTION WHEN duplicate_table THEN
                NULL;
            END;
        END LOOP;
    END IF;
    RETURN part;
END;
$$;

-- The two-argument form (migration 000002's, used by ingestion) now makes both metrics leaves.
CREATE OR REPLACE FUNCTION orchestry_ensure_day_partition(parent text, day date) RETURNS text
LANGUAGE sql AS $$ SELECT orchestry_ensure_day_partition(parent, day, ARRAY['instance', 'app']) $$;

-- Re-make migration 000002's metrics day partitions in the two-level layout. An empty one is
-- dropped and made again; one with rows (instance-level only: nothing wrote app rows before this
-- migration) becomes the instance leaf of a new day partition.
DO $$
DECLARE
    r record;
    d date;
BEGIN
    FOR r IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'metrics'::regclass AND c.relkind = 'r' AND c.relname ~ '^metrics_p[0-9]{8}$'
    LOOP
        d := to_date(substr(r.relname, 10), 'YYYYMMDD');
        EXECUTE format('ALTER TABLE metrics DETACH PARTITION %I', r.relname);
        EXECUTE format('ALTER TABLE %I RENAME TO %I', r.relname, r.relname || '_instance');
        PERFORM orchestry_ensure_day_partition('metrics', d, ARRAY['app']);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%L)', r.relname, r.relname || '_instance', 'instance');
    END LOOP;
END;
$$;

SELECT orchestry_ensure_day_partition('metric_rollups', d::date, NULL)
FROM generate_series((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 3, interval '1 day') AS d;

-- Every job run (scheduled, CLI, API) and its outcome. One 'running' row per job at a time; one
-- row per (job, tick, attempt) for scheduled runs, so replicas run each tick once.
CREATE TABLE job_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'cli', 'api')),
    params JSONB NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    scheduled_for TIMESTAMP WITH TIME ZONE,
    attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    retry_of BIGINT REFERENCES job_runs(id),
    run_after TIMESTAMP WITH TIME ZONE,
    worker_id TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    started_at TIMESTAMP WITH TIME ZONE,
    heartbeat_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    rows_affected BIGINT,
    error TEXT,
    progress JSONB
);
CREATE UNIQUE INDEX job_runs_one_running ON job_runs (job) WHERE status = 'running';
CREATE UNIQUE INDEX job_runs_once_per_tick ON job_runs (job, scheduled_for, attempt) WHERE trigger = 'schedule';
CREATE INDEX job_runs_queued ON job_runs (run_after) WHERE status = 'queued';
CREATE INDEX job_runs_job_created ON job_runs (job, created_at DESC);

-- One row per archived partition: each step (detached, exported, verified, dropped) is recorded
-- so that a crashed run is resumed, never repeated. generation > 1 when a partition was made
-- again (late rows) after an earlier archive of it.
CREATE TABLE archive_ledger (
    partition TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    parent TEXT NOT NULL,
    day DATE NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'detached', 'exported', 'verified', 'dropped')),
    file TEXT,
    rows BIGINT,
    sha256 TEXT,
    run_id BIGINT REFERENCES job_runs(id) ON DELETE SET NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (partition, generation)
);
