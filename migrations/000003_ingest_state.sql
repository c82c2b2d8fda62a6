-- What ingestion needs beyond the seed: per-aspect clocks so an older lifecycle change never
-- overwrites a newer state, a record of dead-lettered messages, and the set-based functions that
-- apply a batch of staged lifecycle messages.

-- Event time of the change that set each aspect (the seed's last_scaled_at and
-- last_health_check already are such clocks for scaling and health).
ALTER TABLE applications
    ADD COLUMN spec_updated_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN status_changed_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE instances
    ADD COLUMN status_changed_at TIMESTAMP WITH TIME ZONE,
    ADD COLUMN stats_at TIMESTAMP WITH TIME ZONE;

-- Every message sent to the dead-letter topic, written in the same transaction that advances the
-- stored offset past it: an exact account of what was not stored, and why.
CREATE TABLE ingest_dead_letters (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    error_code TEXT NOT NULL,
    error_message TEXT NOT NULL,
    dead_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    worker_id TEXT,
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX idx_ingest_dead_letters_code ON ingest_dead_letters(error_code, dead_at DESC);

-- Unknown applications: telemetry for an application that was never registered registers a
-- placeholder (status 'registered', spec {"placeholder": true}) and records a warning event, so
-- nothing is lost; a later app.registered replaces the placeholder spec.
CREATE FUNCTION orchestry_ensure_apps(p_names TEXT[], p_seen_at TIMESTAMP WITH TIME ZONE) RETURNS SETOF TEXT
LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO applications (name, spec, status)
        SELECT DISTINCT n, jsonb_build_object('placeholder', true, 'reason', 'telemetry arrived before app.registered'), 'registered'
        FROM unnest(p_names) AS n
        ORDER BY n
        ON CONFLICT (name) DO NOTHING
        RETURNING name
    ), ev AS (
        INSERT INTO events (event_type, event_category, app_name, message, details, severity, timestamp, source)
        SELECT 'registration', 'application', name,
               'application ' || name || ' sent telemetry before it was registered: placeholder registered',
               jsonb_build_object('placeholder', true), 'warning', p_seen_at, 'orchestry-ingest'
        FROM ins
    )
    SELECT name FROM ins;
$$;

-- First non-null of a camelCase or snake_case key of a JSON object.
CREATE FUNCTION orchestry_spec_value(o JSONB, camel TEXT, snake TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(o->>camel, o->>snake) $$;

-- Keeps scaling_policies and health_checks following the spec's scaling / health check sections
-- (found at the spec's top level or under spec.spec, in camelCase or snake_case).
CREATE FUNCTION orchestry_apply_spec_sections(p_app TEXT, p_spec JSONB) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    s JSONB := coalesce(p_spec->'scaling', p_spec->'spec'->'scaling');
    h JSONB := coalesce(p_spec->'healthCheck', p_spec->'health_check', p_spec->'spec'->'healthCheck', p_spec->'spec'->'health_check');
BEGIN
    IF jsonb_typeof(s) = 'object' THEN
        INSERT INTO scaling_policies AS sp (
            app_name, min_replicas, max_replicas, target_rps_per_replica, max_p95_latency_ms,
            max_cpu_percent, max_memory_percent, max_connections_per_replica,
            scale_out_threshold_pct, scale_in_threshold_pct, cooldown_seconds, evaluation_window_seconds,
            max_scale_out_step, max_scale_in_step, stabilization_window_seconds,
            cpu_weight, memory_weight, rps_weight, latency_weight, connection_weight, updated_at)
        VALUES (
            p_app,
            coalesce(orchestry_spec_value(s, 'minReplicas', 'min_replicas')::int, 1),
            coalesce(orchestry_spec_value(s, 'maxReplicas', 'max_replicas')::int, 5),
            coalesce(orchestry_spec_value(s, 'targetRPSPerReplica', 'target_rps_per_replica')::int, 50),
            coalesce(orchestry_spec_value(s, 'maxP95LatencyMs', 'max_p95_latency_ms')::int, 250),
            coalesce(orchestry_spec_value(s, 'maxCPUPercent', 'max_cpu_percent')::real, 70.0),
            coalesce(orchestry_spec_value(s, 'maxMemoryPercent', 'max_memory_percent')::real, 75.0),
            coalesce(orchestry_spec_value(s, 'maxConnectionsPerReplica', 'max_connections_per_replica')::int, 100),
            coalesce(orchestry_spec_value(s, 'scaleOutThresholdPct', 'scale_out_threshold_pct')::int, 80),
            coalesce(orchestry_spec_value(s, 'scaleInThresholdPct', 'scale_in_threshold_pct')::int, 30),
            coalesce(orchestry_spec_value(s, 'cooldownSeconds', 'cooldown_seconds')::int, 180),
            coalesce(orchestry_spec_value(s, 'evaluationWindowSeconds', 'evaluation_window_seconds')::int, 60),
            coalesce(orchestry_spec_value(s, 'maxScaleOutStep', 'max_scale_out_step')::int, 0),
            coalesce(orchestry_spec_value(s, 'maxScaleInStep', 'max_scale_in_step')::int, 1),
            coalesce(orchestry_spec_value(s, 'stabilizationWindowSeconds', 'stabilization_window_seconds')::int, 300),
            coalesce(orchestry_spec_value(s, 'cpuWeight', 'cpu_weight')::real, 1.0),
            coalesce(orchestry_spec_value(s, 'memoryWeight', 'memory_weight')::real, 1.0),
            coalesce(orchestry_spec_value(s, 'rpsWeight', 'rps_weight')::real, 1.0),
            coalesce(orchestry_spec_value(s, 'latencyWeight', 'latency_weight')::real, 1.5),
            coalesce(orchestry_spec_value(s, 'connectionWeight', 'connection_weight')::real, 0.8),
            NOW())
        ON CONFLICT (app_name) DO UPDATE SET
            min_replicas = EXCLUDED.min_replicas, max_replicas = EXCLUDED.max_replicas,
            target_rps_per_replica = EXCLUDED.target_rps_per_replica, max_p95_latency_ms = EXCLUDED.max_p95_latency_ms,
            max_cpu_percent = EXCLUDED.max_cpu_percent, max_memory_percent = EXCLUDED.max_memory_percent,
            max_connections_per_replica = EXCLUDED.max_connections_per_replica,
            scale_out_threshold_pct = EXCLUDED.scale_out_threshold_pct, scale_in_threshold_pct = EXCLUDED.scale_in_threshold_pct,
            cooldown_seconds = EXCLUDED.cooldown_seconds, evaluation_window_seconds = EXCLUDED.evaluation_window_seconds,
            max_scale_out_step = EXCLUDED.max_scale_out_step, max_scale_in_step = EXCLUDED.max_scale_in_step,
            stabilization_window_seconds = EXCLUDED.stabilization_window_seconds,
            cpu_weight = EXCLUDED.cpu_weight, memory_weight = EXCLUDED.memory_weight, rps_weight = EXCLUDED.rps_weight,
            latency_weight = EXCLUDED.latency_weight, connection_weight = EXCLUDED.connection_weight,
            updated_at = NOW();
    END IF;
    IF jsonb_typeof(h) = 'object' THEN
        INSERT INTO health_checks AS hc (
            app_name, protocol, path, port, method, headers, body, expected_status_codes,
            initial_delay_seconds, period_seconds, timeout_seconds, failure_threshold, success_threshold, enabled, updated_at)
        VALUES (
            p_app,
            upper(coalesce(h->>'protocol', 'HTTP')),
            h->>'path',
            (h->>'port')::int,
            upper(coalesce(h->>'method', 'GET')),
            h->'headers',
            h->>'body',
            coalesce((SELECT array_agg(x::int) FROM jsonb_array_elements_text(coalesce(h->'expectedStatusCodes', h->'expected_status_codes')) AS x), ARRAY[200]),
            coalesce(orchestry_spec_value(h, 'initialDelaySeconds', 'initial_delay_seconds')::int, 30),
            coalesce(orchestry_spec_value(h, 'periodSeconds', 'period_seconds')::int, 30),
            coalesce(orchestry_spec_value(h, 'timeoutSeconds', 'timeout_seconds')::int, 5),
            coalesce(orchestry_spec_value(h, 'failureThreshold', 'failure_threshold')::int, 3),
            coalesce(orchestry_spec_value(h, 'successThreshold', 'success_threshold')::int, 1),
            coalesce((h->>'enabled')::boolean, true),
            NOW())
        ON CONFLICT (app_name) DO UPDATE SET
            protocol = EXCLUDED.protocol, path = EXCLUDED.path, port = EXCLUDED.port, method = EXCLUDED.method,
            headers = EXCLUDED.headers, body = EXCLUDED.body, expected_status_codes = EXCLUDED.expected_status_codes,
            initial_delay_seconds = EXCLUDED.initial_delay_seconds, period_seconds = EXCLUDED.period_seconds,
            timeout_seconds = EXCLUDED.timeout_seconds, failure_threshold = EXCLUDED.failure_threshold,
            success_threshold = EXCLUDED.success_threshold, enabled = EXCLUDED.enabled, updated_at = NOW();
    END IF;
END;
$$;

-- Applies the lifecycle messages staged in the session's temporary table lifecycle_stage
-- (one batch of one topic-partition), in offset order, then appends one events row per message.
-- Each state aspect carries the event time that set it; a message older than that aspect's
-- clock changes nothing (its event is still recorded). Counters (failure_count) count every
-- failure report once, late or not.
CREATE FUNCTION orchestry_apply_lifecycle() RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    holder RECORD;
    touched TEXT[] := '{}';
    n INTEGER := 0;
    hs TEXT;
    new_status TEXT;
BEGIN
    FOR r IN SELECT * FROM pg_temp.lifecycle_stage ORDER BY seq LOOP
        n := n + 1;
        IF r.type <> 'app.registered' AND NOT EXISTS (SELECT 1 FROM applications WHERE name = r.app) THEN
            PERFORM orchestry_ensure_apps(ARRAY[r.app], r.ts);
        END IF;
        CASE r.type
        WHEN 'app.registered' THEN
            INSERT INTO applications AS a (name, spec, status, mode, desired_replicas, created_at, updated_at, spec_updated_at)
            VALUES (r.app, r.payload->'spec', 'registered', coalesce(r.payload->>'mode', 'auto'),
                    coalesce(nullif(coalesce(r.payload->'spec'->'spec'->>'replicas', r.payload->'spec'->>'replicas'), '')::int, 0),
                    r.ts, NOW(), r.ts)
            ON CONFLICT (name) DO UPDATE SET
                spec = EXCLUDED.spec,
                mode = coalesce(r.payload->>'mode', a.mode),
                desired_replicas = CASE WHEN coalesce(r.payload->'spec'->'spec'->>'replicas', r.payload->'spec'->>'replicas') IS NULL
                                        THEN a.desired_replicas ELSE EXCLUDED.desired_replicas END,
                updated_at = NOW(),
                spec_updated_at = EXCLUDED.spec_updated_at
            WHERE a.spec_updated_at IS NULL OR a.spec_updated_at <= EXCLUDED.spec_updated_at;
            IF FOUND THEN
                PERFORM orchestry_apply_spec_sections(r.app, r.payload->'spec');
            END IF;
        WHEN 'app.status' THEN
            UPDATE applications SET status = r.payload->>'status', status_changed_at = r.ts, updated_at = NOW()
            WHERE name = r.app AND (status_changed_at IS NULL OR status_changed_at <= r.ts);
        WHEN 'app.scaled' THEN
            UPDATE applications SET desired_replicas = (r.payload->>'to')::int, last_scaled_at = r.ts, updated_at = NOW()
            WHERE name = r.app AND (last_scaled_at IS NULL OR last_scaled_at <= r.ts);
        WHEN 'container.started' THEN
            -- The replica slot may be held by the container this one replaces: the newer state wins.
            -- Batches of other partitions may start a container in the same slot at the same
            -- time: the slot is taken under a transaction lock, so the second one sees the first.
            PERFORM pg_advisory_xact_lock(hashtext('orchestry.slot'), hashtext(r.app || '/' || (r.payload->>'replica_index')));
            SELECT container_id, status_changed_at INTO holder FROM instances
            WHERE app_name = r.app AND replica_index = (r.payload->>'replica_index')::int AND container_id <> r.container_id
            FOR UPDATE;
            IF FOUND AND holder.status_changed_at IS NOT NULL AND holder.status_changed_at > r.ts THEN
                NULL; -- a newer container holds the slot: this start is history (its event is kept)
            ELSE
                IF FOUND THEN
                    DELETE FROM instances WHERE container_id = holder.container_id;
                END IF;
                INSERT INTO instances AS i (app_name, container_id, container_name, replica_index, ip, port, status,
                                            health_status, started_at, status_changed_at, consecutive_failures, created_at, updated_at)
                VALUES (r.app, r.container_id, r.payload->>'container_name', (r.payload->>'replica_index')::int,
                        (r.payload->>'ip')::inet, (r.payload->>'port')::int, 'running', 'starting', r.ts, r.ts, 0, NOW(), NOW())
                ON CONFLICT (container_id) DO UPDATE SET
                    container_name = EXCLUDED.container_name, replica_index = EXCLUDED.replica_index,
                    ip = EXCLUDED.ip, port = EXCLUDED.port, status = 'running',
                    health_status = CASE WHEN i.last_health_check IS NULL OR i.last_health_check <= EXCLUDED.started_at
                                         THEN 'starting' ELSE i.health_status END,
                    consecutive_failures = CASE WHEN i.last_health_check IS NULL OR i.last_health_check <= EXCLUDED.started_at
                                         THEN 0 ELSE i.consecutive_failures END,
                    started_at = EXCLUDED.started_at, status_changed_at = EXCLUDED.status_changed_at, updated_at = NOW()
                WHERE i.status_changed_at IS NULL OR i.status_changed_at <= EXCLUDED.status_changed_at;
            END IF;
            touched := touched || r.app;
        WHEN 'container.health' THEN
            hs := r.payload->>'health_status';
            UPDATE instances SET
                health_status = CASE WHEN last_health_check IS NULL OR last_health_check <= r.ts THEN hs ELSE health_status END,
                consecutive_failures = CASE
                    WHEN last_health_check IS NOT NULL AND last_health_check > r.ts THEN consecutive_failures
                    WHEN hs = 'unhealthy' THEN coalesce((r.payload->>'failures')::int, consecutive_failures + 1)
                    WHEN hs = 'healthy' THEN 0
                    ELSE consecutive_failures END,
                failure_count = failure_count + CASE WHEN hs = 'unhealthy' THEN 1 ELSE 0 END,
                last_failure_at = CASE WHEN hs = 'unhealthy' THEN greatest(last_failure_at, r.ts) ELSE last_failure_at END,
                last_health_check = greatest(last_health_check, r.ts),
                updated_at = NOW()
            WHERE container_id = r.container_id;
        WHEN 'container.stopping', 'container.stopped', 'container.draining', 'container.error' THEN
            new_status := CASE r.type WHEN 'container.stopping' THEN 'stopping' WHEN 'container.stopped' THEN 'stopped'
                                      WHEN 'container.draining' THEN 'draining' ELSE 'error' END;
            UPDATE instances SET
                status = CASE WHEN status_changed_at IS NULL OR status_changed_at <= r.ts THEN new_status ELSE status END,
                status_changed_at = greatest(status_changed_at, r.ts),
                failure_count = failure_count + CASE WHEN new_status = 'error' THEN 1 ELSE 0 END,
                last_failure_at = CASE WHEN new_status = 'error' THEN greatest(last_failure_at, r.ts) ELSE last_failure_at END,
                updated_at = NOW()
            WHERE container_id = r.container_id;
            touched := touched || r.app;
        END CASE;
    END LOOP;

    -- applications.replicas: the instances of the application that are up (starting, running, draining).
    UPDATE applications a SET replicas = c.n
    FROM (SELECT t.app, count(i.id) AS n
          FROM unnest(touched) AS t(app) LEFT JOIN instances i ON i.app_name = t.app AND i.status IN ('starting', 'running', 'draining')
          GROUP BY t.app) c
    WHERE a.name = c.app AND a.replicas IS DISTINCT FROM c.n;

    INSERT INTO events (event_type, event_category, app_name, container_id, message, details, severity, timestamp, source, node_id)
    SELECT event_type, event_category, app, container_id, message, payload, severity, ts, source, node_id
    FROM pg_temp.lifecycle_stage ORDER BY seq;
    RETURN n;
END;
$$;
