-- The index set on metrics, chosen by what it serves and what it costs on load (bench/indexes.ts).
--
-- metrics takes every stats sample (tens of thousands of rows a second); each index is paid on
-- every row. What reads metrics:
--   * the seed's get_app_metrics_window and orchestry_app_metrics_window:
--       app_name = $1 AND metric_type IN (...) AND timestamp >= now() - N minutes
--     -> idx_metrics_app_type_time (app_name, metric_type, timestamp DESC): kept;
--   * the rollups job: aggregation_level = 'instance' AND timestamp in [from, to), a range scan of
--     the newest hour or two of a day partition whose rows arrive in time order
--     -> BRIN (timestamp), a few pages per partition instead of a btree entry per row;
--   * the rollups job's DELETE of mirrored app-level rows: app_name, metric_type, timestamp
--     -> idx_metrics_app_type_time;
--   * retention and archive: whole partitions, no index.
-- idx_metrics_app_timestamp (app_name, timestamp) and idx_metrics_type_timestamp (metric_type,
-- timestamp) serve none of these, and idx_metrics_timestamp (a btree on timestamp) does the BRIN's
-- job at a btree's cost. 000001 created all of them as the seed wrote them; they are replaced here.
-- Measured on this project's 2-core machine, COPY of the bench workload into metrics, 2
-- connections, alternating on fresh databases (bench/indexes.ts): 320k rows 181k -> 307k rows/s
-- (5 rounds, every candidate round above every current one), 2M rows 192k -> 304k rows/s (1.59x).
DROP INDEX idx_metrics_app_timestamp;
DROP INDEX idx_metrics_type_timestamp;
DROP INDEX idx_metrics_timestamp;
CREATE INDEX idx_metrics_timestamp_brin ON metrics USING brin (timestamp);
