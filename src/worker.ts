// The worker: migrations, the consumer, the scheduler and the HTTP server, started together and
// stopped in order (HTTP last, so /readyz reports the shutdown).
import { Registry } from 'prom-client';
import type { ConfigWith, WORKER_REQUIRES } from './config.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createPool, createProbePool, type Pool } from './db/pool.ts';
import { migrate } from './db/migrate.ts';
import { createKafka } from './kafka/client.ts';
import { startIngest, type Ingest } from './ingest/index.ts';
import { startLagMonitor } from './ingest/ops/lag.ts';
import type { Scheduler } from './scheduler/types.ts';
import { startHttpServer } from './http/server.ts';
import { poolHealthChecks } from './http/readiness.ts';
import { errorMessage } from './errors.ts';

/** The configuration the worker runs with: KAFKA_BROKERS and DATABASE_URL known to be set. */
export type WorkerConfig = ConfigWith<(typeof WORKER_REQUIRES)[number]>;

export interface RunningWorker {
  config: WorkerConfig;
  pool: Pool;
  metrics: Metrics;
  ingest: Ingest;
  scheduler: Scheduler | undefined;
  httpPort: number | undefined;
  stop(): Promise<void>;
}

/** Readiness checks' bound (the HTTP server's default readinessTimeoutMs). */
const PROBE_TIMEOUT_MS = 2000;

export interface WorkerOptions {
  registry?: Registry;
  http?: boolean;
  scheduler?: boolean;
}

/**
 * The HTTP server, with readiness answered by a one-connection probe pool of its own (never the
 * ingest pool, so probes and batches never queue behind each other); close() ends both.
 */
async function startHttp(
  deps: { config: WorkerConfig; logger: Logger; metrics: Metrics; pool: Pool; scheduler: Scheduler | undefined },
  consumerProblem: () => string | undefined,
): Promise<{ port: number; close(): Promise<void> }> {
  const { config, logger, scheduler } = deps;
  const probePool = createProbePool(config.db, PROBE_TIMEOUT_MS);
  try {
    const server = await startHttpServer({
      config,
      logger: logger.child({ component: 'http' }),
      metrics: deps.metrics,
      pool: deps.pool,
      ...(scheduler ? { scheduler } : {}),
      health: { consumerProblem, ...poolHealthChecks(probePool) },
    });
    logger.info({ port: server.port }, 'HTTP server listening (/metrics, /healthz, /readyz, /admin/jobs)');
    return {
      port: server.port,
      async close() {
        await server.close();
        await probePool.end().catch(() => {});
      },
    };
  } catch (err) {
    await probePool.end().catch(() => {});
    throw err;
  }
}

export async function startWorker(config: WorkerConfig, logger: Logger, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const metrics = createMetrics(opts.registry ?? new Registry());
  const pool = createPool(config.db);
  const stops: (() => Promise<void>)[] = [];
  let closeHttp: (() => Promise<void>) | undefined;
  try {
    const applied = await migrate(pool, { log: (m) => logger.info(m) });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    let scheduler: Scheduler | undefined;
    if (opts.scheduler !== false && config.scheduler.enabled) {
      const { startScheduler } = await import('./scheduler/index.ts');
      scheduler = await startScheduler({ config, pool, logger: logger.child({ component: 'scheduler' }), metrics, workerId: config.workerId });
      const s = scheduler;
      stops.push(() => s.stop());
    }

    // HTTP before the consumer: /healthz and /readyz answer while the group is being joined.
    const consumer: { ingest?: Ingest } = {};
    let httpPort: number | undefined;
    if (opts.http !== false) {
      const server = await startHttp({ config, logger, metrics, pool, scheduler }, () => (consumer.ingest ? consumer.ingest.problem() : 'the consumer has not started'));
      httpPort = server.port;
      closeHttp = () => server.close();
    }

    const kafka = createKafka(config.kafka, logger.child({ component: 'kafkajs' }));
    const running = await startIngest({ config, kafka, pool, logger: logger.child({ component: 'ingest' }), metrics });
    consumer.ingest = running;
    // The consumer stops first: it finishes its batch in flight before jobs and HTTP go.
    stops.unshift(() => running.stop());

    const admin = kafka.admin();
    await admin.connect();
    const lag = startLagMonitor({
      admin,
      pool,
      metrics,
      topics: [config.kafka.topics.stats, config.kafka.topics.lifecycle],
      intervalMs: config.lagRefreshIntervalMs,
      logger: logger.child({ component: 'lag' }),
    });
    stops.push(async () => {
      await lag.stop();
      await admin.disconnect().catch(() => {});
    });

    let stopped: Promise<void> | undefined;
    return {
      config,
      pool,
      metrics,
      ingest: running,
      scheduler,
      httpPort,
      stop() {
        stopped ??= (async () => {
          // Consumer first (finishes its batch in flight), then jobs, then the HTTP server.
          for (const stop of [...stops, closeHttp ?? (async () => {})]) {
            await stop().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'stop step failed'));
          }
          await pool.end().catch(() => {});
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const stop of [...stops, closeHttp ?? (async () => {})]) await stop().catch(() => {});
    await pool.end().catch(() => {});
    throw err;
  }
}

/** Runs the worker until SIGTERM/SIGINT; returns the exit code (0 on a clean stop in time). */
export async function runWorkerUntilSignal(config: WorkerConfig, logger: Logger): Promise<number> {
  const worker = await startWorker(config, logger);
  logger.info({ workerId: config.workerId, groupId: config.kafka.groupId, topics: config.kafka.topics }, 'worker started');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'stopping: finishing the batch in flight');
  const timer = setTimeout(() => {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timer.unref();
  await worker.stop();
  clearTimeout(timer);
  logger.info('stopped cleanly');
  logger.flush?.();
  return 0;
}
