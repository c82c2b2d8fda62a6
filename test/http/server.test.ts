// The HTTP server against a real PostgreSQL: /metrics, /healthz, /readyz, and which routes it serves.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { HTTP_TIMEOUTS, startHttpServer } from '../../src/http/server.ts';
import { poolHealthChecks } from '../../src/http/readiness.ts';
import type { HealthSource } from '../../src/http/types.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Scheduler } from '../../src/scheduler/types.ts';
import { capture } from '../helpers/capture.ts';
import { adminQuery, freshDatabase, urlFor, type TestDatabase } from '../helpers/db.ts';

const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

/** A worker whose every readiness check passes, without touching a database. */
const HEALTHY: HealthSource = { consumerProblem: () => undefined, checkDatabase: async () => {}, migrationsCurrent: async () => true };

const scheduler: Scheduler = {
  jobs: () => [],
  trigger: async () => {
    throw new Error('not used');
  },
  getRun: async () => undefined,
  listRuns: async () => [],
  stop: async () => {},
};

async function start(opts: { health: HealthSource; env?: Record<string, string>; scheduler?: Scheduler; pool?: pg.Pool; level?: string; options?: Parameters<typeof startHttpServer>[0]['options'] }) {
  const config = loadConfig({ HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', ...opts.env });
  const metrics = createMetrics(new Registry());
  const log = capture();
  const logger = createLogger({ level: opts.level ?? 'info', destination: log.stream });
  const server = await startHttpServer({
    config,
    logger,
    metrics,
    health: opts.health,
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
    ...(opts.pool ? { pool: opts.pool } : {}),
    ...(opts.options ? { options: opts.options } : {}),
  });
  const base = `http://127.0.0.1:${server.port}`;
  return { server, port: server.port, metrics, logs: log.text, get: (path: string, init?: RequestInit) => fetch(`${base}${path}`, init) };
}

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db.drop();
});

describe('GET /metrics', () => {
  test('it serves every instrument of the registry it was given, with the pool gauges read at scrape time', async () => {
    const s = await start({ health: { consumerProblem: () => undefined, ...poolHealthChecks(db.pool) }, pool: db.pool });
    try {
      s.metrics.messagesConsumed.inc({ topic: 'orchestry.container.stats', outcome: 'stored' }, 42);
      s.metrics.rowsWritten.inc({ table: 'metrics' }, 7);
      const res = await s.get('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const body = await res.text();
      for (const m of s.metrics.registry.getMetricsAsArray()) assert.ok(body.includes(`# HELP ${m.name} `), `${m.name} is served`);
      assert.match(body, /^orchestry_ingest_messages_total\{topic="orchestry\.container\.stats",outcome="stored"\} 42$/m);
      assert.match(body, /^orchestry_ingest_rows_written_total\{table="metrics"\} 7$/m);
      assert.match(body, /^orchestry_ingest_pg_pool_connections\{state="total"\} \d+$/m);
      assert.match(body, /^orchestry_ingest_pg_pool_connections\{state="idle"\} \d+$/m);
      assert.match(body, /^orchestry_ingest_pg_pool_connections\{state="waiting"\} 0$/m);
      assert.match(body, /^orchestry_ingest_ready 1$/m);
      assert.match(body, /^orchestry_ingest_readiness_check\{check="database"\} 1$/m);
      assert.match(body, /^process_cpu_seconds_total /m);
      assert.match(body, /^nodejs_eventloop_lag_seconds /m);
    } finally {
      await s.server.close();
    }
  });

  test('two servers with their own registries do not share counters', async () => {
    const health = HEALTHY;
    const a = await start({ health });
    const b = await start({ health });
    try {
      a.metrics.dlqMessages.inc({ code: 'E_JSON' });
      assert.match(await (await a.get('/metrics')).text(), /^orchestry_ingest_dlq_messages_total\{code="E_JSON"\} 1$/m);
      assert.doesNotMatch(await (await b.get('/metrics')).text(), /E_JSON/);
    } finally {
      await Promise.all([a.server.close(), b.server.close()]);
    }
  });
});

describe('GET /healthz', () => {
  test('it answers 200 while the event loop runs freely', async () => {
    const s = await start({ health: { consumerProblem: () => 'the consumer has not joined its group', checkDatabase: async () => { throw new Error('down'); }, migrationsCurrent: async () => false } });
    try {
      const res = await s.get('/healthz');
      assert.equal(res.status, 200, 'liveness does not depend on readiness');
      assert.equal(((await res.json()) as { status: string }).status, 'ok');
    } finally {
      await s.server.close();
    }
  });

  test('it answers 503 after the event loop was blocked longer than the limit, and 200 again once the window passed', async () => {
    const s = await start({
      health: HEALTHY,
      options: { eventLoopStallMs: 300, eventLoopWindowMs: 500 },
    });
    try {
      // A new histogram records from its first sample on (resolution 20 ms).
      await new Promise((r) => setTimeout(r, 100));
      const until = Date.now() + 700;
      while (Date.now() < until) {
        // Blocks the event loop, as a runaway synchronous loop would.
      }
      const res = await s.get('/healthz');
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { reason: string }).reason, /event loop blocked for \d+ ms/);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await s.get('/healthz')).status, 200);
    } finally {
      await s.server.close();
    }
  });
});

describe('GET /readyz', () => {
  type Body = { status: string; failed: string[] };
  /** Readiness is cached for a second by default; tests that change a check's answer turn the cache off. */
  const uncached = { readinessCacheMs: 0 };

  test('it answers 200 when the consumer joined, PostgreSQL answers and the migrations are current', async () => {
    const s = await start({ health: { consumerProblem: () => undefined, ...poolHealthChecks(db.pool) } });
    try {
      const res = await s.get('/readyz');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { status: 'ready', failed: [] });
    } finally {
      await s.server.close();
    }
  });

  test('it answers 503 naming the consumer check while the consumer has not joined its group', async () => {
    let joined = false;
    const s = await start({ health: { consumerProblem: () => (joined ? undefined : 'the consumer has not joined its group'), ...poolHealthChecks(db.pool) }, options: uncached });
    try {
      const res = await s.get('/readyz');
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { status: 'not ready', failed: ['consumer'] });
      assert.match(s.logs(), /"failed":\["consumer"\].*the consumer has not joined its group.*"msg":"not ready"/, 'the reason is logged');
      joined = true;
      assert.equal((await s.get('/readyz')).status, 200);
    } finally {
      await s.server.close();
    }
  });

  test('it answers 503 naming the database while PostgreSQL cannot serve the database, and 200 once it is back and migrated', async () => {
    const name = `${db.name}_ready`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const pool = createPool({ url: urlFor(name), poolMax: 2, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
    await migrate(pool);
    const s = await start({ health: { consumerProblem: () => undefined, ...poolHealthChecks(pool) }, pool, options: uncached });
    try {
      assert.equal((await s.get('/readyz')).status, 200);

      await adminQuery(`DROP DATABASE ${name} WITH (FORCE)`);
      const down = await s.get('/readyz');
      assert.equal(down.status, 503);
      const text = await down.text();
      const body = JSON.parse(text) as Body;
      assert.ok(body.failed.includes('database'), `failed: ${body.failed.join(', ')}`);
      assert.ok(!body.failed.includes('consumer'));
      assert.doesNotMatch(text, /does not exist|terminat/, 'the database error stays out of the public body');
      assert.match(s.logs(), /(does not exist|terminat).*"msg":"not ready"/, 'and goes to the log');
      assert.match(await (await s.get('/metrics')).text(), /^orchestry_ingest_ready 0$/m);

      // Back, but empty: PostgreSQL answers, the migrations are not current.
      await adminQuery(`CREATE DATABASE ${name}`);
      const empty = await s.get('/readyz');
      assert.equal(empty.status, 503);
      assert.deepEqual(((await empty.json()) as Body).failed, ['migrations']);

      await migrate(pool);
      assert.equal((await s.get('/readyz')).status, 200);
      assert.match(await (await s.get('/metrics')).text(), /^orchestry_ingest_ready 1$/m);
    } finally {
      await s.server.close();
      await pool.end().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });

  test('it answers 503 naming the database when the server refuses connections', async () => {
    const pool = createPool({ url: 'postgres://postgres:secret-pw@127.0.0.1:1/nowhere', poolMax: 2, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
    const s = await start({ health: { consumerProblem: () => undefined, ...poolHealthChecks(pool) } });
    try {
      const res = await s.get('/readyz');
      assert.equal(res.status, 503);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), { status: 'not ready', failed: ['database', 'migrations'] });
      assert.match(s.logs(), /ECONNREFUSED/);
      assert.doesNotMatch(s.logs(), /secret-pw/);
    } finally {
      await s.server.close();
      await pool.end();
    }
  });

  test('it answers 503 when a check does not answer within the readiness timeout', async () => {
    const locker = await db.pool.connect();
    const s = await start({ health: { consumerProblem: () => undefined, ...poolHealthChecks(db.pool) }, options: { readinessTimeoutMs: 300 } });
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE orchestry_migrations IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const res = await s.get('/readyz');
      assert.ok(Date.now() - started < 3000, 'the answer does not wait for the blocked query');
      assert.equal(res.status, 503);
      assert.deepEqual(((await res.json()) as Body).failed, ['migrations']);
      assert.match(s.logs(), /no answer within 300 ms/);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
      await s.server.close();
    }
  });

  test('concurrent probes share one round of checks, and a round answers until it is older than the cache time', async () => {
    let rounds = 0;
    const health: HealthSource = {
      consumerProblem: () => undefined,
      checkDatabase: async () => {
        rounds++;
        await new Promise((r) => setTimeout(r, 100));
      },
      migrationsCurrent: async () => true,
    };
    // 2.5 s rather than the default 1 s: 100 connections at once can take a second on a busy machine.
    const s = await start({ health, options: { readinessCacheMs: 2500 } });
    try {
      const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => s.get(i % 2 ? '/readyz' : '/metrics')));
      assert.deepEqual([...new Set(burst.map((r) => r.status))], [200]);
      assert.equal(rounds, 1, 'one round for 50 /readyz and 50 /metrics requests at once');
      assert.equal((await s.get('/readyz')).status, 200);
      assert.equal(rounds, 1, 'a round younger than the cache time answers');
      await new Promise((r) => setTimeout(r, 2600));
      await s.get('/readyz');
      assert.equal(rounds, 2, 'an older round is replaced');
    } finally {
      await s.server.close();
    }
  });

  test('the public body names the failed check only: the error text goes to the log', async () => {
    const secret = 'password authentication failed for user "ingest" from 10.1.2.3';
    const s = await start({ health: { consumerProblem: () => undefined, checkDatabase: async () => { throw new Error(secret); }, migrationsCurrent: async () => true } });
    try {
      const res = await s.get('/readyz');
      assert.equal(res.status, 503);
      assert.equal(await res.text(), '{"status":"not ready","failed":["database"]}');
      assert.ok(s.logs().includes('10.1.2.3'), 'the reason is in the log');
    } finally {
      await s.server.close();
    }
  });
});

describe('HTTP timeouts', () => {
  test('an idle keep-alive connection is closed by the server after the keep-alive timeout', { timeout: 20_000 }, async () => {
    const s = await start({ health: HEALTHY });
    try {
      const socket = connect(s.port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      const opened = Date.now();
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      let response = '';
      socket.on('data', (d: Buffer) => (response += d.toString()));
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const heldMs = Date.now() - opened;
      assert.match(response, /^HTTP\/1\.1 200/);
      assert.ok(heldMs >= HTTP_TIMEOUTS.keepAliveTimeout - 500 && heldMs < HTTP_TIMEOUTS.keepAliveTimeout + 3000, `closed after ${heldMs} ms`);
    } finally {
      await s.server.close();
    }
  });
});

describe('admin routes', () => {
  test('without an ADMIN_TOKEN no admin route is served and a warning says so', async () => {
    const s = await start({ health: HEALTHY, scheduler });
    try {
      assert.equal((await s.get('/admin/jobs')).status, 404);
      assert.equal((await s.get('/admin/jobs/rollups', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 404);
      assert.match(s.logs(), /ADMIN_TOKEN is not set/);
    } finally {
      await s.server.close();
    }
  });

  test('with an ADMIN_TOKEN the admin routes are served, behind the bearer token', async () => {
    const s = await start({
      health: HEALTHY,
      scheduler,
      env: { ADMIN_TOKEN },
    });
    try {
      assert.equal((await s.get('/admin/jobs')).status, 401);
      assert.equal((await s.get('/admin/jobs', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
      const ok = await s.get('/admin/jobs', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { jobs: [] });
      assert.equal((await s.get('/metrics')).status, 200, 'the token guards the admin routes only');
    } finally {
      await s.server.close();
    }
  });

  test('request logging at debug level never writes the Authorization header or the token', async () => {
    const s = await start({
      health: HEALTHY,
      scheduler,
      env: { ADMIN_TOKEN },
      level: 'debug',
    });
    try {
      await s.get('/admin/jobs', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await s.get(`/healthz?token=${ADMIN_TOKEN}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      await new Promise((r) => setImmediate(r));
      const logs = s.logs();
      assert.match(logs, /"msg":"http request"/);
      assert.doesNotMatch(logs, new RegExp(ADMIN_TOKEN));
      assert.doesNotMatch(logs, /authorization/i);
    } finally {
      await s.server.close();
    }
  });
});
