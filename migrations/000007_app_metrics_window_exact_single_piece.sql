-- orchestry_app_metrics_window, revised: when a metric_type's window is a single piece (all raw
-- rows, or one rollup), its avg/p50/p95 are returned as that piece computed them. 000005 returned
-- sum(n * x) / sum(n) even then, which is x only up to the last bit of a double (a CI run saw
-- 94.82499999999997 for a raw percentile_cont of 94.82499999999999). Same signature and columns.
CREATE OR REPLACE FUNCTION orchestry_app_metrics_window(app text, minutes integer, metric_types text[] DEFAULT NULL)
RETURNS TABLE (metric_type text, avg_value double precision, min_value double precision, max_value double precision,
               p50_value double precision, p95_value double precision, data_points bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    e timestamptz := now();
    s timestamptz := now() - make_interval(mins => minutes);
    w timestamptz := (SELECT watermark FROM rollup_state);
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
    WITH pieces AS (
        SELECT r.metric_type::text AS mt, r.count AS n, r.avg, r.min::float8 AS mn, r.max::float8 AS mx, r.p50, r.p95
        FROM metric_rollups r
        WHERE r.width = '1h' AND r.app_name = app AND r.bucket >= hs AND r.bucket < he
        UNION ALL
        SELECT r.metric_type::text, r.count, r.avg, r.min::float8, r.max::float8, r.p50, r.p95
        FROM metric_rollups r
        WHERE r.width = '1m' AND r.app_name = app AND r.bucket >= cs AND r.bucket < ce
          AND NOT (r.bucket >= hs AND r.bucket < he)
        UNION ALL
        SELECT m.metric_type::text, count(*), avg(m.value), min(m.value)::float8, max(m.value)::float8,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY m.value),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY m.value)
        FROM metrics m
        WHERE m.aggregation_level = 'instance' AND m.app_name = app
          AND m.timestamp >= s AND m.timestamp < e AND (m.timestamp < cs OR m.timestamp >= ce)
        GROUP BY m.metric_type
    )
    SELECT p.mt,
           CASE WHEN count(*) = 1 THEN max(p.avg) ELSE sum(p.n * p.avg) / sum(p.n) END,
           min(p.mn), max(p.mx),
           CASE WHEN count(*) = 1 THEN max(p.p50) ELSE sum(p.n * p.p50) / sum(p.n) END,
           CASE WHEN count(*) = 1 THEN max(p.p95) ELSE sum(p.n * p.p95) / sum(p.n) END,
           sum(p.n)::bigint
    FROM pieces p
    WHERE metric_types IS NULL OR p.mt = ANY (metric_types)
    GROUP BY p.mt
    ORDER BY p.mt;
END;
$$;
