// The worker's HTTP server: /metrics for Prometheus, /healthz (liveness), /readyz (readiness), and
// the admin routes when an ADMIN_TOKEN is configured.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Scheduler } from '../scheduler/types.ts';
import { adminRoutes } from './admin.ts';
import { cachedReadiness } from './readiness.ts';
import type { HealthSource } from './types.ts';

export interface HttpServerDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  health: HealthSource;
  scheduler?: Scheduler;
  /** The ingest pool, for its gauges on /metrics only: nothing served here queries it. */
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
  /** How long a round of readiness checks answers /readyz and /metrics before the next round runs. */
  readinessCacheMs?: number;
}

const DEFAULTS: Required<HttpServerOptions> = { eventLoopStallMs: 5000, eventLoopWindowMs: 30_000, readinessTimeoutMs: 2000, readinessCacheMs: 1000 };

/**
 * Node's HTTP server timeouts (Fastify leaves request and connection timeouts off): a client must
 * send its request within 10 s, an idle keep-alive connection closes after 5 s, and a socket with
 * no traffic for 30 s is closed, so slow or idle clients cannot hold sockets open.
 */
export const HTTP_TIMEOUTS = { requestTimeout: 10_000, keepAliveTimeout: 5_000, connectionTimeout: 30_000 } as const;

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
    ...HTTP_TIMEOUTS,
  });
  const readiness = cachedReadiness(health, metrics, log, { timeoutMs: opts.readinessTimeoutMs, cacheMs: opts.readinessCacheMs });
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
    // Refreshes orchestry_ingest_ready / readiness_check (cached, on the probe pool), so alerts see
    // readiness without probing /readyz.
    await readiness.get();
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
    // The public body names the failed checks only; their reasons are in the log (cachedReadiness).
    const r = await readiness.get();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', failed: r.failed });
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
