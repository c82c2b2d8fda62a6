import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { Registry } from 'prom-client';
import { adminRoutes } from '../../src/http/admin.ts';
import { createMetrics } from '../../src/metrics.ts';
import { startScheduler } from '../../src/scheduler/index.ts';
import type { Scheduler } from '../../src/scheduler/types.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { silent, testConfig } from './helpers.ts';

const TOKEN = 'correct-horse-battery-staple-42';
let db: TestDatabase;
let app: FastifyInstance;
let scheduler: Scheduler;

before(async () => {
  db = await freshDatabase();
  scheduler = await startScheduler({
    config: testConfig(db.url), pool: db.pool, logger: silent, metrics: createMetrics(new Registry(), { defaultMetrics: false }), workerId: 'admin-test', tick: false,
  });
  app = Fastify();
  await app.register(adminRoutes, { scheduler, adminToken: TOKEN });
  await app.ready();
});
after(async () => {
  await app?.close();
  await scheduler?.stop();
  await db?.drop();
});

const post = (name: string, body: unknown, token: string | undefined = TOKEN) =>
  app.inject({ method: 'POST', url: `/admin/jobs/${name}`, payload: body as object, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

test('the admin endpoint answers 401 without a token, with a wrong one, and with an almost-right one', async () => {
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${TOKEN.slice(0, -1)}X` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Basic ${TOKEN}` }, { authorization: TOKEN }]) {
    const res = await app.inject({ method: 'POST', url: '/admin/jobs/partitions', payload: {}, headers });
    assert.equal(res.statusCode, 401, JSON.stringify(headers));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  }
  const get = await app.inject({ method: 'GET', url: '/admin/jobs/runs/1' });
  assert.equal(get.statusCode, 401);
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM job_runs');
  assert.equal(rows[0].n, 0, 'nothing ran');
});

test('bad parameters get 400 with the reasons; an unknown job gets 404', async () => {
  const res = await post('archive', { older_than: 'two weeks', surprise: true });
  assert.equal(res.statusCode, 400);
  const body = res.json() as { reasons: string[] };
  assert.ok(body.reasons.some((r) => r.startsWith('older_than:')), JSON.stringify(body));
  assert.ok(body.reasons.some((r) => r.includes('surprise')), JSON.stringify(body));
  assert.equal((await post('archive', [1, 2])).statusCode, 400);
  assert.equal((await post('defrag', {})).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/admin/jobs/runs/abc', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 400);
});

test('a job that is running gets 409', async () => {
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  try {
    await other.query(`SELECT pg_advisory_lock($1, hashtext('retention'))`, [0x6a6f6273]);
    const res = await post('retention', {});
    assert.equal(res.statusCode, 409);
  } finally {
    await other.end();
  }
});

test('a valid request gets 202 with the run id, and GET /admin/jobs/runs/:id reports the run until it is done', async () => {
  const res = await post('partitions', { ahead_days: 4 });
  assert.equal(res.statusCode, 202);
  const { runId } = res.json() as { runId: number };
  assert.ok(Number.isInteger(runId));
  let run: { status: string; trigger: string; params: unknown; rowsAffected: number } | undefined;
  for (let i = 0; i < 100 && run?.status !== 'succeeded'; i++) {
    const got = await app.inject({ method: 'GET', url: `/admin/jobs/runs/${runId}`, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(got.statusCode, 200);
    run = got.json();
    if (run?.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(run?.status, 'succeeded');
  assert.equal(run?.trigger, 'api');
  assert.deepEqual(run?.params, { ahead_days: 4 });
  const missing = await app.inject({ method: 'GET', url: '/admin/jobs/runs/999999', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(missing.statusCode, 404);
});

test('archive older_than below one day is refused with 400 and the reason (issue 11), and nothing runs', async () => {
  for (const older_than of ['1m', '23h', '90m']) {
    const res = await post('archive', { older_than });
    assert.equal(res.statusCode, 400, older_than);
    assert.ok((res.json() as { reasons: string[] }).reasons.some((r) => /older_than: .*at least 1d.*force/.test(r)), res.body);
  }
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM job_runs WHERE job = 'archive' AND params->>'older_than' IN ('1m', '23h', '90m')`)).rows[0].n, 0);
});

async function finished(runId: number): Promise<string | undefined> {
  for (let i = 0; i < 150; i++) {
    const run = await scheduler.getRun(runId);
    if (run && run.status !== 'running' && run.status !== 'queued') return run.status;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

test('archive older_than of a day or more, or below it with force, is accepted', async () => {
  for (const body of [{ older_than: '1d' }, { older_than: '1h', force: true }]) {
    const res = await post('archive', body);
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(await finished((res.json() as { runId: number }).runId), 'succeeded');
  }
  const { rows } = await db.pool.query(`SELECT params FROM job_runs WHERE job = 'archive' ORDER BY id`);
  assert.deepEqual(rows.map((r) => r.params).slice(-2), [{ older_than: '1d' }, { older_than: '1h', force: true }]);
});
