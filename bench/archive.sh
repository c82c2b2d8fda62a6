#!/usr/bin/env bash
# Archive benchmark: one metrics partition of ROWS rows (default 2,000,000; 1,000 containers x 8
# metric types, labels as the worker writes them) archived to a file:// and an s3:// destination
# as Parquet, restored from each, and archived once more as gzip'd COPY for the size comparison.
# Each step is the real CLI (`jobs run archive`, `archive restore`) run as deployed
# (--max-old-space-size=256); wall time and peak RSS from /usr/bin/time.
# Needs DATABASE_URL and the S3_*/ARCHIVE_URL lines of `orchestry-ingest stack up --with-s3`.
set -euo pipefail
ROWS=${ROWS:-2000000}
cd "$(dirname "$0")/.."
DB=bench_archive
ADMIN_URL=$DATABASE_URL
export DATABASE_URL=${ADMIN_URL%/*}/$DB
S3_URL=${ARCHIVE_URL:?run with the lines of stack up --with-s3}-bench-$$
DIR=$(mktemp -d /tmp/orchestry-bench-archive-XXXX)
DAY=$(date -u -d '-10 days' +%F); TAG=${DAY//-/}
PART=metrics_p${TAG}_instance
cli() { /usr/bin/time -f '%e %M' -o "$DIR/time" node --max-old-space-size=256 bin/orchestry-ingest.js "$@" >/dev/null 2>"$DIR/err" || { cat "$DIR/err"; exit 1; }; read -r SECS KB < "$DIR/time"; }
report() { printf '%-34s %9.1f s %9.0f rows/s  peak RSS %4d MB\n' "$1" "$SECS" "$(echo "$ROWS / $SECS" | bc -l)" $((KB / 1024)); }

psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
node bin/orchestry-ingest.js migrate >/dev/null 2>&1
psql -q "$DATABASE_URL" -c "SELECT orchestry_ensure_day_partition('metrics', '$DAY'::date, ARRAY['instance'])" >/dev/null
psql -q "$DATABASE_URL" -c "
  INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
  SELECT 'app-' || (c % 50), (ARRAY['cpu_percent','memory_percent','memory_bytes','rps','latency_p50','latency_p95','latency_p99','active_connections'])[m + 1],
         '$DAY'::date + make_interval(secs => (i / 8000) * 5 + (c % 5) + 0.000123 * m),
         random() * 100, jsonb_build_object('container_id', 'c-' || c, 'zone', 'eu-west-1a'), '%', 'instance'
    FROM generate_series(0, $ROWS - 1) i, LATERAL (SELECT (i / 8) % 1000 AS c, i % 8 AS m) x"
psql -q "$DATABASE_URL" -c "ANALYZE $PART"
echo "partition $PART: $ROWS rows, $(psql -tA "$DATABASE_URL" -c "SELECT pg_size_pretty(pg_total_relation_size('$PART'))") in PostgreSQL"

ARCHIVE_URL=file://$DIR/file cli jobs run archive --older-than 9d; report 'archive, Parquet to file://'
OBJ=$DIR/file/table=metrics/level=instance/day=$DAY/part-00000.parquet
PARQUET=$(stat -c %s "$OBJ")
cli archive restore "$OBJ"; report 'restore from file://'
ARCHIVE_URL=$S3_URL cli jobs run archive --older-than 9d --include-restored; report 'archive, Parquet to s3://'
cli archive restore "$S3_URL/table=metrics/level=instance/day=$DAY/part-00001.parquet"; report 'restore from s3://'
ARCHIVE_URL=file://$DIR/gz ARCHIVE_FORMAT=copy-gzip cli jobs run archive --older-than 9d --include-restored; report 'archive, gzip COPY to file://'
GZ=$(stat -c %s "$DIR"/gz/$PART.g3.copy.gz)
echo "Parquet (zstd) $((PARQUET / 1024)) KB, gzip COPY text $((GZ / 1024)) KB: Parquet is $(echo "scale=2; $PARQUET * 100 / $GZ" | bc) % of gzip"
rm -rf "$DIR"
psql -q "$ADMIN_URL" -c "DROP DATABASE $DB"
