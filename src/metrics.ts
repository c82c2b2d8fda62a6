// Prometheus instruments, registered on a registry that is passed in (never the global one),
// so each worker and each test reads its own.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

const durationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const P = 'orchestry_ingest_';

/** Ingestion: messages, rows, dead letters, batches, retries, fences, placeholder applications. */
function ingestMetrics(registry: Registry) {
  return {
    messagesConsumed: new Counter({
      name: `${P}messages_total`,
      help: 'Kafka messages consumed, by topic and outcome (stored, dlq, duplicate, tombstone)',
      labelNames: ['topic', 'outcome'] as const,
      registers: [registry],
    }),
    rowsWritten: new Counter({
      name: `${P}rows_written_total`,
      help: 'Rows written to PostgreSQL, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    }),
    dlqMessages: new Counter({
      name: `${P}dlq_messages_total`,
      help: 'Messages sent to the dead-letter topic, by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: `${P}batch_messages`,
      help: 'Messages per committed batch',
      labelNames: ['topic'] as const,
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000],
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: `${P}batch_duration_seconds`,
      help: 'Time spent per batch, by phase: decode, dlq (sending dead letters), copy (rows and offset, inside the transaction), commit, total',
      labelNames: ['topic', 'phase'] as const,
      buckets: durationBuckets,
      registers: [registry],
    }),
    dbRetries: new Counter({
      name: `${P}db_retries_total`,
      help: 'Batches retried because PostgreSQL was unavailable',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    fenced: new Counter({
      name: `${P}fenced_batches_total`,
      help: 'Batches rolled back because another worker had advanced the stored offset',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    lastCommitTimestamp: new Gauge({
      name: `${P}last_commit_timestamp_seconds`,
      help: 'Unix time of the last committed batch',
      registers: [registry],
    }),
    placeholderApps: new Gauge({
      name: `${P}placeholder_apps`,
      help: 'Placeholder applications (telemetry before app.registered), as last counted when a new unknown app arrived',
      registers: [registry],
    }),
    placeholderAppsRefused: new Counter({
      name: `${P}placeholder_apps_refused_total`,
      help: 'Messages dead-lettered because their unknown app would exceed PLACEHOLDER_APPS_MAX',
      registers: [registry],
    }),
  };
}

/** The consumer and its lag: group membership, pause, lag in messages and seconds, lag refreshes. */
function consumerMetrics(registry: Registry) {
  return {
    consumerLag: new Gauge({
      name: `${P}consumer_lag_messages`,
      help: 'Log end offset minus stored offset, per topic and partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    consumerLagSeconds: new Gauge({
      name: `${P}consumer_lag_seconds`,
      help: 'Seconds since the producer timestamp of the oldest unconsumed message, per topic and partition (0 when none waits)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    paused: new Gauge({
      name: `${P}consumer_paused`,
      help: '1 while consumption is paused (PostgreSQL unavailable), else 0',
      registers: [registry],
    }),
    queuedMessages: new Gauge({
      name: `${P}queued_messages`,
      help: 'Fetched messages queued on the partition lanes, not yet written (bounded: a lane pauses its partition at two chunks)',
      registers: [registry],
    }),
    consumerReady: new Gauge({
      name: `${P}consumer_group_joined`,
      help: '1 while the consumer is a member of its group, else 0',
      registers: [registry],
    }),
    lagRefreshes: new Counter({
      name: `${P}lag_refreshes_total`,
      help: 'Consumer lag refreshes by the lag monitor, by outcome (ok, error)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    lagLastRefresh: new Gauge({
      name: `${P}lag_last_refresh_timestamp_seconds`,
      help: 'Unix time of the last successful consumer lag refresh',
      registers: [registry],
    }),
  };
}

/** Scheduler jobs: runs, durations, last success. */
function jobMetrics(registry: Registry) {
  return {
    jobRuns: new Counter({
      name: `${P}job_runs_total`,
      help: 'Scheduler job runs, by job and final status',
      labelNames: ['job_name', 'status'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: `${P}job_duration_seconds`,
      help: 'Scheduler job run duration, by job',
      labelNames: ['job_name'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    jobLastSuccess: new Gauge({
      name: `${P}job_last_success_timestamp_seconds`,
      help: 'Unix time of each job\'s last successful run',
      labelNames: ['job_name'] as const,
      registers: [registry],
    }),
  };
}

/** The worker itself (issue 5): readiness and the PostgreSQL pool. */
function workerMetrics(registry: Registry) {
  return {
    poolConnections: new Gauge({
      name: `${P}pg_pool_connections`,
      help: 'PostgreSQL pool connections, by state (total, idle, waiting)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    ready: new Gauge({
      name: `${P}ready`,
      help: '1 when every readiness check passes (consumer joined, PostgreSQL answers, migrations current), else 0; evaluated at scrape time',
      registers: [registry],
    }),
    readinessCheck: new Gauge({
      name: `${P}readiness_check`,
      help: 'Result of each readiness check at the last scrape or /readyz call (1 passed, 0 failed), by check',
      labelNames: ['check'] as const,
      registers: [registry],
    }),
  };
}

export function createMetrics(registry: Registry = new Registry(), opts: { defaultMetrics?: boolean } = {}) {
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: '' });
  return { registry, ...ingestMetrics(registry), ...consumerMetrics(registry), ...jobMetrics(registry), ...workerMetrics(registry) };
}
