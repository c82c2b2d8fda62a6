// The worker's HTTP server: /metrics for Prometheus, /healthz (liveness), /readyz (readiness), and
// the admin routes when an ADMIN_TOKEN is configured.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import { migrationStatus, readMigrations, type Migration } from '../db/migrate.ts';
import type { Pool } from '../db/pool.ts';
import { errorMessage } from '../errors.ts';
import { maskUrlPasswords, type Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Scheduler } from '../scheduler/types.ts';
import { adminRoutes } from './admin.ts';
import type { HealthSource } from './types.ts';

export interface HttpServerDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  health: HealthSource;
  scheduler?: Scheduler;
  pool?: Pool;
  options?: HttpServerOptions;
}

export interface HttpServerOptions {
  /** /healthz fails when the event loop was blocked longer than this within the last window. */
  eventLoopStallMs?: number;
  /** How long a stall stays visible on /healthz after it ended. */
  eventLoopWindowMs?: number;
  /** Each readiness check (database, migrations) fails when it has not answered within this time. */
  readinessTimeoutMs?: number;
}

const DEFAULTS: Required<HttpServerOptions> = { eventLoopStallMs: 5000, eventLoopWindowMs: 30_000, readinessTimeoutMs: 2000 };

export type ReadinessCheck = 'consumer' | 'database' | 'migrations';

export interface Readiness {
  ready: boolean;
  /** The checks that failed, in a stable order. */
  failed: ReadinessCheck[];
  checks: Record<ReadinessCheck, { ok: boolean; error?: string }>;
}

/** `checkDatabase` and `migrationsCurrent` of a HealthSource, answered by a pool. */
export function poolHealthChecks(pool: Pool): Pick<HealthSource, 'checkDatabase' | 'migrationsCurrent'> {
  let onDisk: Migration[] | undefined; // the files do not change under a running worker: read and hash them once
  return {
    async checkDatabase() {
      await pool.query('SELECT 1');
    },
    async migrationsCurrent() {
      onDisk ??= readMigrations();
      return (await migrationStatus(pool, onDisk)).current;
    },
  };
}

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const run = Promise.resolve().then(work);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the readiness checks in parallel, each bounded by `timeoutMs`, and records them on the metrics. */
export async function checkReadiness(health: HealthSource, metrics: Metrics, timeoutMs: number): Promise<Readiness> {
  // Each check answers with what is wrong, or undefined; a rejection or a timeout is its own answer.
  const outcome = async (problem: () => Promise<string | undefined>): Promise<{ ok: boolean; error?: string }> => {
    try {
      const error = await withTimeout(problem, timeoutMs);
      return error === undefined ? { ok: true } : { ok: false, error };
    } catch (err) {
      return { ok: false, error: maskUrlPasswords(errorMessage(err)) };
    }
  };
  const [consumer, database, migrations] = await Promise.all([
    outcome(async () => health.consumerProblem()),
    outcome(async () => void (await health.checkDatabase())),
    outcome(async () => ((await health.migrationsCurrent()) ? undefined : 'migrations are pending')),
  ]);
  const checks = { consumer, database, migrations };
  const failed = (Object.keys(checks) as ReadinessCheck[]).filter((k) => !checks[k].ok);
  for (const k of Object.keys(checks) as ReadinessCheck[]) metrics.readinessCheck.set({ check: k }, checks[k].ok ? 1 : 0);
  metrics.ready.set(failed.length === 0 ? 1 : 0);
  return { ready: failed.length === 0, failed, checks };
}

/**
 * Tracks the largest event loop delay of the last one to two windows. Two histograms overlap: at
 * each rotation the older is dropped and a new one starts, while the other keeps recording (a
 * histogram reset would lose the delay of a stall that is just ending).
 */
function eventLoopWatch(windowMs: number) {
  const open = () => {
    const h = monitorEventLoopDelay({ resolution: 20 });
    h.enable();
    return h;
  };
  let previous = open();
  let current = open();
  const timer = setInterval(() => {
    previous.disable();
    previous = current;
    current = open();
  }, windowMs);
  timer.unref();
  return {
    maxDelayMs: () => Math.max(previous.max, current.max) / 1e6,
    stop() {
      clearInterval(timer);
      previous.disable();
      current.disable();
    },
  };
}

/** Starts the HTTP server on config.http.host:port (port 0 picks a free one). */
export async function startHttpServer(deps: HttpServerDeps): Promise<{ port: number; close(): Promise<void> }> {
  const { config, metrics, health, pool } = deps;
  const opts = { ...DEFAULTS, ...deps.options };
  const log = deps.logger.child({ component: 'http' });
  const loop = eventLoopWatch(opts.eventLoopWindowMs);

  // Fastify's own per-request logging is off: one debug line per request below, without headers.
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  // Turning request logging off also silences Fastify's error handler: server errors are logged here.
  app.addHook('onError', async (req, reply, err) => {
    if (reply.statusCode >= 500) log.error({ err, method: req.method, url: req.routeOptions.url ?? req.url.split('?')[0] }, 'http request failed');
  });
  app.addHook('onResponse', async (req, reply) => {
    log.debug({ method: req.method, url: req.routeOptions.url ?? req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
  });

  app.get('/metrics', async (_req, reply) => {
    if (pool) {
      metrics.poolConnections.set({ state: 'total' }, pool.totalCount);
      metrics.poolConnections.set({ state: 'idle' }, pool.idleCount);
      metrics.poolConnections.set({ state: 'waiting' }, pool.waitingCount);
    }
    // Refreshes orchestry_ingest_ready / readiness_check, so alerts see readiness without probing /readyz.
    await checkReadiness(health, metrics, opts.readinessTimeoutMs);
    const body = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(body);
  });

  app.get('/healthz', async (_req, reply) => {
    const maxDelayMs = Math.round(loop.maxDelayMs());
    if (maxDelayMs > opts.eventLoopStallMs) {
      return reply.code(503).send({ status: 'unhealthy', reason: `event loop blocked for ${maxDelayMs} ms (limit ${opts.eventLoopStallMs} ms)`, maxEventLoopDelayMs: maxDelayMs });
    }
    return reply.send({ status: 'ok', maxEventLoopDelayMs: maxDelayMs });
  });

  app.get('/readyz', async (_req, reply) => {
    const r = await checkReadiness(health, metrics, opts.readinessTimeoutMs);
    if (!r.ready) log.debug({ failed: r.failed }, 'not ready');
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', failed: r.failed, checks: r.checks });
  });

  const adminToken = config.http.adminToken;
  if (deps.scheduler && adminToken) {
    await app.register(adminRoutes, { scheduler: deps.scheduler, adminToken });
  } else if (deps.scheduler) {
    log.info('ADMIN_TOKEN is not set: the admin routes (/admin/jobs/*) are not served');
  }

  try {
    await app.listen({ port: config.http.port, host: config.http.host });
  } catch (err) {
    loop.stop();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  log.info({ host: config.http.host, port }, 'http server listening');
  return {
    port,
    async close() {
      loop.stop();
      await app.close();
    },
  };
}
