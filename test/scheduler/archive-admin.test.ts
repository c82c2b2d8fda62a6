// The archive job's `older_than` floor over the admin API (issue 11): below one day it is refused
// with the reason unless `force` is given, so a leaked token cannot archive and drop today's data.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { adminRoutes } from '../../src/http/admin.ts';
import { createMetrics } from '../../src/metrics.ts';
import { startScheduler } from '../../src/scheduler/index.ts';
import type { Scheduler } from '../../src/scheduler/types.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { silent, testConfig } from './helpers.ts';

const TOKEN = 'archive-admin-test-token-0042';
let db: TestDatabase;
let app: FastifyInstance;
let scheduler: Scheduler;

before(async () => {
  db = await freshDatabase();
  scheduler = await startScheduler({
    config: testConfig(db.url), pool: db.pool, logger: silent, metrics: createMetrics(new Registry(), { defaultMetrics: false }), workerId: 'archive-admin-test', tick: false,
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

const post = (body: unknown) => app.inject({ method: 'POST', url: '/admin/jobs/archive', payload: body as object, headers: { authorization: `Bearer ${TOKEN}` } });

test('older_than below one day is refused with 400 and the reason, and nothing runs', async () => {
  for (const older_than of ['1m', '23h', '90m']) {
    const res = await post({ older_than });
    assert.equal(res.statusCode, 400, older_than);
    assert.ok((res.json() as { reasons: string[] }).reasons.some((r) => /older_than: .*at least 1d.*force/.test(r)), res.body);
  }
  assert.equal((await db.pool.query(`SELECT count(*)::int AS n FROM job_runs WHERE job = 'archive'`)).rows[0].n, 0);
});

async function finished(runId: number): Promise<string | undefined> {
  for (let i = 0; i < 150; i++) {
    const run = await scheduler.getRun(runId);
    if (run && run.status !== 'running' && run.status !== 'queued') return run.status;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

test('older_than of a day or more, or below it with force, is accepted', async () => {
  for (const body of [{ older_than: '1d' }, { older_than: '1h', force: true }]) {
    const res = await post(body);
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(await finished((res.json() as { runId: number }).runId), 'succeeded');
  }
  const { rows } = await db.pool.query(`SELECT params FROM job_runs WHERE job = 'archive' ORDER BY id`);
  assert.deepEqual(rows.map((r) => r.params), [{ older_than: '1d' }, { older_than: '1h', force: true }]);
});
