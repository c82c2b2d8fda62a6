-- Rollup windows you can trust: a mergeable quantile sketch in every window, an invalidation log
-- for late rows, and orchestry_app_metrics_window composing 1 h, 1 m and raw pieces by merging.
--
-- Sketch (DDSketch's mapping, relative accuracy alpha = 0.01, gamma = (1 + alpha) / (1 - alpha)):
--   positive v -> key ceil(ln v / ln gamma), clamped to [-9999, 9999] (REAL's range is about
--   [-5200, 4440]); v = 0 -> key -20000; negative v -> -30000 - key(|v|), so that one sorted array
--   of keys orders buckets by value (larger magnitudes first among negatives).
--   The value of positive key k is 2 gamma^k / (gamma + 1): every v in (gamma^(k-1), gamma^k] is
--   within alpha of it, relatively (exactly alpha at both ends, so a value that float rounding of
--   ln() puts in the neighbouring bucket is still within alpha plus rounding).
--   A window stores sketch_keys (sorted, distinct) and sketch_counts (parallel); merging windows
--   adds counts per key. Quantile q: rank q * (n - 1), as percentile_cont; the first key whose
--   cumulative count exceeds it. That key holds one of the two samples percentile_cont
--   interpolates between, so the answer is within alpha of one of them.
-- Pure SQL: any PostgreSQL 13+ (managed services included), no extension.

CREATE TYPE orchestry_sketch AS (keys integer[], counts bigint[]);

CREATE FUNCTION orchestry_sketch_key(v double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN v = 0 THEN -20000
        WHEN v > 0 THEN least(9999, greatest(-9999, ceil(ln(v) / ln(1.01::float8 / 0.99::float8))))::integer
        ELSE -30000 - least(9999, greatest(-9999, ceil(ln(-v) / ln(1.01::float8 / 0.99::float8))))::integer
    END
$$;

CREATE FUNCTION orchestry_sketch_value(k integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN k = -20000 THEN 0::float8
        WHEN k > -20000 THEN 2 * power(1.01::float8 / 0.99::float8, k) / (1.01::float8 / 0.99::float8 + 1)
        ELSE -2 * power(1.01::float8 / 0.99::float8, -30000 - k) / (1.01::float8 / 0.99::float8 + 1)
    END
$$;

-- Normalises keys/counts that may repeat keys or be unsorted (a concatenation of sketches).
CREATE FUNCTION orchestry_sketch_merge(keys integer[], counts bigint[]) RETURNS orchestry_sketch
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(s.k ORDER BY s.k), '{}'), coalesce(array_agg(s.c ORDER BY s.k), '{}')
    FROM (SELECT u.k, sum(u.c)::bigint AS c FROM unnest(keys, counts) AS u(k, c) GROUP BY u.k) s
$$;

-- The sketch of a bag of keys (array_agg(orchestry_sketch_key(value)) of a window's rows): one
-- GROUP BY per window is much cheaper than grouping all rows by (window, key).
CREATE FUNCTION orchestry_sketch_of_keys(keys integer[]) RETURNS orchestry_sketch
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(s.k ORDER BY s.k), '{}'), coalesce(array_agg(s.c ORDER BY s.k), '{}')
    FROM (SELECT u.k, count(*)::bigint AS c FROM unnest(keys) AS u(k) GROUP BY u.k) s
$$;

CREATE FUNCTION orchestry_sketch_cat(s orchestry_sketch, keys integer[], counts bigint[]) RETURNS orchestry_sketch
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ROW(s.keys || keys, s.counts || counts)::orchestry_sketch $$;

CREATE FUNCTION orchestry_sketch_final(s orchestry_sketch) RETURNS orchestry_sketch
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT orchestry_sketch_merge(s.keys, s.counts) $$;

-- orchestry_sketch_union(sketch_keys, sketch_counts): the merged sketch of a group of windows.
CREATE AGGREGATE orchestry_sketch_union(integer[], bigint[]) (
    SFUNC = orchestry_sketch_cat, STYPE = orchestry_sketch, FINALFUNC = orchestry_sketch_final, INITCOND = '({},{})'
);

-- The quantiles qs of a sketch (NULL each when it is empty). A loop over the arrays: one
-- statement per window, cheaper than a query per quantile.
CREATE FUNCTION orchestry_sketch_quantiles(keys integer[], counts bigint[], qs double precision[]) RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n float8 := 0;
    cum float8;
    len integer := coalesce(array_length(keys, 1), 0);
    q float8;
    i integer;
    answer float8;
    out float8[] := '{}';
BEGIN
    FOR i IN 1 .. len LOOP
        n := n + counts[i];
    END LOOP;
    FOREACH q IN ARRAY qs LOOP
        cum := 0;
        answer := NULL;
        FOR i IN 1 .. len LOOP
            cum := cum + counts[i];
            IF cum > q * (n - 1) THEN
                answer := orchestry_sketch_value(keys[i]);
                EXIT;
            END IF;
        END LOOP;
        out := out || answer;
    END LOOP;
    RETURN out;
END;
$$;

CREATE FUNCTION orchestry_sketch_quantile(keys integer[], counts bigint[], q double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (orchestry_sketch_quantiles(keys, counts, ARRAY[q]))[1] $$;

-- Windows gain sum (float8: avg = sum / count exactly as the pieces add up) and the sketch.
-- Windows written before this migration keep no sketch (their count, sum, min and max still
-- compose; `jobs run rollups --from T` rebuilds them from raw rows while those exist).
ALTER TABLE metric_rollups ADD COLUMN sum DOUBLE PRECISION, ADD COLUMN sketch_keys INTEGER[], ADD COLUMN sketch_counts BIGINT[];
UPDATE metric_rollups SET sum = avg * count;
ALTER TABLE metric_rollups ALTER COLUMN sum SET NOT NULL;
-- The job recomputes the 1 h windows of given hours from their 1 m windows: (width, bucket).
CREATE INDEX idx_metric_rollups_width_bucket ON metric_rollups (width, bucket);

-- rollup_state: `watermark` is the writers' cutoff (rows below it are logged as invalidations);
-- `computed_through` is how far the job has computed 1 m windows from raw rows (<= watermark).
-- Everything before computed_through is in the rollups, except what rollup_invalidations lists.
ALTER TABLE rollup_state ADD COLUMN computed_through TIMESTAMP WITH TIME ZONE;
UPDATE rollup_state SET computed_through = watermark;

-- 1-minute windows (app, metric_type, bucket) that received rows after the job had covered them.
CREATE TABLE rollup_invalidations (
    app_name VARCHAR(253) NOT NULL,
    metric_type VARCHAR(50) NOT NULL,
    bucket TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (app_name, metric_type, bucket)
);

-- Writers and the job meet on one advisory lock (namespace 'roll', key 1). A writer calls this in
-- the transaction of its metric rows, with the distinct (app, metric_type, minute) of the chunk.
-- It takes the lock SHARED first; being VOLATILE, the INSERT after it reads rollup_state with a
-- fresh snapshot (READ COMMITTED). The job advances the watermark holding the lock EXCLUSIVE and
-- commits before it reads raw rows. So a writer either committed before the job's raw read began
-- (its rows are read), or it reads the new watermark (its rows below it are logged).
CREATE FUNCTION orchestry_log_rollup_invalidations(apps text[], types text[], minutes_ms bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1919904876, 1);
    INSERT INTO rollup_invalidations (app_name, metric_type, bucket)
    SELECT u.a, u.t, to_timestamp(u.ms / 1000.0)
    FROM unnest(apps, types, minutes_ms) AS u(a, t, ms)
    WHERE to_timestamp(u.ms / 1000.0) < (SELECT watermark FROM rollup_state)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

-- The job's first step, in its own short transaction: the watermark moves to the current minute
-- under the exclusive lock. Returns where 1 m computation stands and the new watermark.
CREATE FUNCTION orchestry_advance_rollup_watermark() RETURNS TABLE (computed_through timestamptz, watermark timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1919904876, 1);
    RETURN QUERY
    INSERT INTO rollup_state AS s (id, watermark) VALUES (true, date_trunc('minute', now()))
    ON CONFLICT (id) DO UPDATE SET watermark = greatest(s.watermark, excluded.watermark), updated_at = now()
    RETURNING s.computed_through, s.watermark;
END;
$$;

-- The app-level series with the columns of metrics (id is NULL: a window has no sample id).
CREATE VIEW metric_rollups_as_metrics AS
SELECT NULL::bigint AS id, r.app_name, r.metric_type, r.bucket AS "timestamp", r.avg::real AS value,
       jsonb_build_object('window', r.width, 'count', r.count, 'min', r.min, 'max', r.max, 'p50', r.p50, 'p95', r.p95, 'p99', r.p99) AS labels,
       r.unit, 'app'::varchar(20) AS aggregation_level
FROM metric_rollups r;

-- orchestry_app_metrics_window(app, minutes [, metric_types]): the seed's get_app_metrics_window
-- columns plus p99_value, over [now() - minutes, now()) of an app's instance-level metrics:
--   * whole UTC hours before computed_through          -> 1 h windows
--   * other whole minutes before computed_through       -> 1 m windows
--   * the partial first minute and everything after it  -> raw rows, sketched on the fly
-- data_points, min and max are exact; avg = sum / count; p50/p95/p99 come from the merged sketch
-- (within alpha = 1% of a sample next to the exact percentile), clamped to [min, max]. A window
-- read wholly from raw rows returns avg and percentile_cont exactly, as the seed's query.
DROP FUNCTION orchestry_app_metrics_window(text, integer, text[]);
CREATE FUNCTION orchestry_app_metrics_window(app text, minutes integer, metric_types text[] DEFAULT NULL)
RETURNS TABLE (metric_type text, avg_value double precision, min_value double precision, max_value double precision,
               p50_value double precision, p95_value double precision, data_points bigint, p99_value double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e timestamptz := now();
    s timestamptz := now() - make_interval(mins => minutes);
    w timestamptz := (SELECT computed_through FROM rollup_state);
    -- Every type when none is given: `metric_type = ANY` lets the btree seek each type's time range.
    types text[] := coalesce(metric_types, ARRAY['cpu_percent', 'memory_percent', 'memory_bytes', 'rps', 'latency_p50', 'latency_p95',
        'latency_p99', 'active_connections', 'error_rate', 'response_time', 'queue_length', 'disk_usage']);
    cs timestamptz;  -- rollup-covered part is [cs, ce)
    ce timestamptz;
    hs timestamptz;  -- whole hours inside it: [hs, he)
    he timestamptz;
BEGIN
    IF minutes IS NULL OR minutes <= 0 THEN
        RAISE EXCEPTION 'minutes must be positive, got %', minutes USING ERRCODE = '22023';
    END IF;
    cs := date_bin('1 minute', s, timestamptz '2000-01-01 00:00:00+00');
    IF cs < s THEN cs := cs + interval '1 minute'; END IF;
    ce := least(coalesce(w, '-infinity'::timestamptz), date_bin('1 minute', e, timestamptz '2000-01-01 00:00:00+00'));
    IF ce <= cs THEN cs := e; ce := e; END IF; -- nothing covered: all raw
    hs := date_bin('1 hour', cs, timestamptz '2000-01-01 00:00:00+00');
    IF hs < cs THEN hs := hs + interval '1 hour'; END IF;
    he := date_bin('1 hour', ce, timestamptz '2000-01-01 00:00:00+00');
    IF he <= hs THEN hs := cs; he := cs; END IF;

    RETURN QUERY
    WITH raw AS (  -- two ranges, so that each is an index range scan of its own
        SELECT m.metric_type::text AS mt, m.value
        FROM metrics m
        WHERE m.aggregation_level = 'instance' AND m.app_name = app AND m.timestamp >= s AND m.timestamp < cs
          AND m.metric_type = ANY (types)
        UNION ALL
        SELECT m.metric_type::text, m.value
        FROM metrics m
        WHERE m.aggregation_level = 'instance' AND m.app_name = app AND m.timestamp >= ce AND m.timestamp < e
          AND m.metric_type = ANY (types)
    ), roll AS (
        SELECT r.metric_type::text AS mt, r.count, r.sum, r.min::float8 AS mn, r.max::float8 AS mx, r.sketch_keys, r.sketch_counts
        FROM metric_rollups r
        WHERE r.app_name = app AND r.metric_type = ANY (types)
          AND ((r.width = '1h' AND r.bucket >= hs AND r.bucket < he)
            OR (r.width = '1m' AND r.bucket >= cs AND r.bucket < ce AND NOT (r.bucket >= hs AND r.bucket < he)))
    ), exact AS (
        SELECT x.mt, count(*) AS n, sum(x.value::float8) AS sm, avg(x.value) AS av, min(x.value)::float8 AS mn, max(x.value)::float8 AS mx,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY x.value) AS p
        FROM raw x GROUP BY x.mt
    ), totals AS (
        SELECT t.mt, sum(t.n)::bigint AS n, sum(t.sm) AS sm, min(t.mn) AS mn, max(t.mx) AS mx, bool_and(t.is_raw) AS all_raw
        FROM (SELECT x.mt, x.n, x.sm, x.mn, x.mx, true AS is_raw FROM exact x
              UNION ALL SELECT r.mt, r.count, r.sum, r.mn, r.mx, false FROM roll r) t
        GROUP BY t.mt
    ), merged AS (
        SELECT b.mt, b.k, sum(b.c)::bigint AS c
        FROM (SELECT x.mt, orchestry_sketch_key(x.value) AS k, count(*) AS c FROM raw x GROUP BY 1, 2
              UNION ALL SELECT r.mt, u.k, u.c FROM roll r, unnest(r.sketch_keys, r.sketch_counts) AS u(k, c)) b
        GROUP BY b.mt, b.k
    ), sketch AS (
        SELECT g.mt, orchestry_sketch_quantiles(array_agg(g.k ORDER BY g.k), array_agg(g.c ORDER BY g.k), ARRAY[0.5, 0.95, 0.99]) AS p
        FROM merged g GROUP BY g.mt
    )
    SELECT t.mt,
           CASE WHEN t.all_raw THEN x.av ELSE t.sm / t.n END,
           t.mn, t.mx,
           CASE WHEN t.all_raw THEN x.p[1] ELSE greatest(t.mn, least(t.mx, k.p[1])) END,
           CASE WHEN t.all_raw THEN x.p[2] ELSE greatest(t.mn, least(t.mx, k.p[2])) END,
           t.n,
           CASE WHEN t.all_raw THEN x.p[3] ELSE greatest(t.mn, least(t.mx, k.p[3])) END
    FROM totals t
    LEFT JOIN exact x ON x.mt = t.mt
    LEFT JOIN sketch k ON k.mt = t.mt
    ORDER BY t.mt;
END;
$$;
