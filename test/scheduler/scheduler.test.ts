import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Registry } from 'prom-client';
import { IngestError } from '../../src/errors.ts';
import { createMetrics } from '../../src/metrics.ts';
import { startScheduler } from '../../src/scheduler/index.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, runnerFor, silent, testConfig } from './helpers.ts';

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

const EVERY_SECOND = '* * * * * *';

test('two schedulers started at once run each job once per tick, never two runs of a job at the same time', async () => {
  const config = testConfig(db.url);
  await runJob(db.pool, config, 'partitions'); // the first run makes ~100 tables; later ones are quick
  const schedules = { partitions: EVERY_SECOND, rollups: EVERY_SECOND, retention: EVERY_SECOND, archive: EVERY_SECOND, 'compress-events': EVERY_SECOND };
  const start = (workerId: string) =>
    startScheduler({ config, pool: db.pool, logger: silent, metrics: createMetrics(new Registry(), { defaultMetrics: false }), workerId, schedules, tickOptions: { catchUpMs: 0 } });
  const [a, b] = await Promise.all([start('worker-a'), start('worker-b')]);
  try {
    // At least 4.5 s, then until every job has run on 3 ticks (a loaded machine skips ticks that
    // find the previous run still going; that is the behaviour under test, not a failure): 30 s at most.
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 4500));
    while (Date.now() - started < 30_000) {
      const { rows } = await db.pool.query<{ fewest: number }>(
        `SELECT coalesce(min(t), 0)::int AS fewest FROM (SELECT count(DISTINCT scheduled_for) AS t FROM job_runs WHERE trigger = 'schedule' GROUP BY job HAVING count(*) > 0) x
          WHERE (SELECT count(DISTINCT job) FROM job_runs WHERE trigger = 'schedule') = 5`,
      );
      if (rows[0]!.fewest >= 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }

  const { rows } = await db.pool.query<{ job: string; ticks: number; runs: number; workers: number; overlaps: number; bad: number }>(`
    SELECT job, count(DISTINCT scheduled_for)::int AS ticks, count(*)::int AS runs, count(DISTINCT worker_id)::int AS workers,
           (SELECT count(*)::int FROM job_runs x JOIN job_runs y ON x.job = y.job AND x.id < y.id
             WHERE x.job = r.job AND x.status <> 'queued' AND y.status <> 'queued'
               AND tstzrange(x.started_at, x.finished_at) && tstzrange(y.started_at, y.finished_at)) AS overlaps,
           -- stop() interrupts a long job at its next step (it is retried later): not a failure of the job.
           count(*) FILTER (WHERE status <> 'succeeded' AND coalesce(error, '') NOT LIKE 'interrupted: the scheduler is stopping%')::int AS bad
      FROM job_runs r WHERE trigger = 'schedule' AND attempt = 1 GROUP BY job ORDER BY job`);
  assert.deepEqual(rows.map((r) => r.job), ['archive', 'compress-events', 'partitions', 'retention', 'rollups']);
  for (const r of rows) {
    assert.equal(r.runs, r.ticks, `${r.job}: one run per tick`);
    assert.ok(r.ticks >= 3, `${r.job}: ran on most ticks (${r.ticks})`);
    assert.equal(r.overlaps, 0, `${r.job}: runs never overlapped`);
    const errors = r.bad > 0 ? (await db.pool.query(`SELECT status, attempt, error FROM job_runs WHERE job = $1 AND status <> 'succeeded'`, [r.job])).rows : [];
    assert.equal(r.bad, 0, `${r.job}: every run succeeded ${JSON.stringify(errors)}`);
  }
  const { rows: by } = await db.pool.query<{ worker_id: string }>(`SELECT DISTINCT worker_id FROM job_runs ORDER BY 1`);
  assert.ok(by.length >= 1);
  const { rows: running } = await db.pool.query(`SELECT id FROM job_runs WHERE status = 'running'`);
  assert.deepEqual(running, [], 'stop() waited for the runs in flight');
});

test('a job that runs anywhere cannot be started again (E_JOB_RUNNING)', async () => {
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  await other.query(`SELECT pg_advisory_lock($1, hashtext('retention'))`, [0x6a6f6273]);
  const runner = runnerFor(db.pool, testConfig(db.url));
  await assert.rejects(runner.trigger('retention', {}, 'cli'), (err: IngestError) => err.code === 'E_JOB_RUNNING');
  await other.end();
  const { done } = await runner.trigger('retention', {}, 'cli');
  assert.equal((await done).status, 'succeeded');
  await runner.stop();
});

test('unknown jobs and bad parameters are refused with their reasons', async () => {
  const runner = runnerFor(db.pool, testConfig(db.url));
  await assert.rejects(runner.trigger('vacuum', {}, 'cli'), (err: IngestError) => err.code === 'E_JOB_UNKNOWN');
  await assert.rejects(runner.trigger('archive', { older_than: 'soon', extra: 1 }, 'api'), (err: IngestError & { reasons?: string[] }) => {
    assert.equal(err.code, 'E_JOB_PARAMS');
    assert.ok(err.reasons?.some((r) => r.startsWith('older_than:')));
    assert.ok(err.reasons?.some((r) => /extra/.test(r)));
    return true;
  });
});

test('`jobs run --help` (or -h after a job name) prints the jobs and their parameters, and runs nothing', () => {
  const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'orchestry-ingest.js');
  for (const args of [['jobs', 'run', '--help'], ['jobs', 'run', 'archive', '-h']]) {
    const r = spawnSync(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Usage: orchestry-ingest jobs run <name>/);
    assert.match(r.stdout, /^ {2}archive +--older-than --force --include-restored$/m);
    assert.match(r.stdout, /^ {2}partitions +--ahead-days$/m);
    assert.match(r.stdout, /^ {2}rollups +--from$/m);
    assert.match(r.stdout, /^ {2}retention +\(none\)$/m);
  }
});

test("a dead worker's running row is recovered: marked failed, and the job runs again", async () => {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO job_runs (job, trigger, status, worker_id, started_at, heartbeat_at) VALUES ('partitions', 'api', 'running', 'dead', now() - interval '10 minutes', now() - interval '9 minutes') RETURNING id`,
  );
  const runner = runnerFor(db.pool, testConfig(db.url));
  const { done } = await runner.trigger('partitions', {}, 'api');
  assert.equal((await done).status, 'succeeded');
  await runner.stop();
  const { rows: dead } = await db.pool.query(`SELECT status, error FROM job_runs WHERE id = $1`, [rows[0]!.id]);
  assert.equal(dead[0].status, 'failed');
  assert.match(dead[0].error, /worker lost/);
});

test('a failed run is retried with backoff by a ticking scheduler, as a new attempt', async () => {
  const config = testConfig(db.url);
  await db.pool.query(`SELECT orchestry_ensure_day_partition('events', (now() - interval '40 days')::date)`);
  const part = `events_p${new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '')}`;
  await db.pool.query(`INSERT INTO events (event_type, message, timestamp) VALUES ('error', 'old', now() - interval '40 days')`);
  const faults = new Set([`archive:after-export:${part}`]);
  const registry = new Registry();
  const s = await startScheduler({
    config, pool: db.pool, logger: silent, metrics: createMetrics(registry, { defaultMetrics: false }), workerId: 'retrier',
    schedules: { partitions: '0 0 1 1 *', rollups: '0 0 1 1 *', retention: '0 0 1 1 *', archive: '0 0 1 1 *', 'compress-events': '0 0 1 1 *' },
    faults, retryBaseMs: 300, tickOptions: { pollMs: 100 },
  });
  let runId: number;
  let first;
  let retry;
  try {
    const t = await s.trigger('archive', {}, 'api');
    runId = t.runId;
    first = await t.done;
    faults.clear();
    for (let i = 0; i < 50 && retry?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      retry = (await db.pool.query(`SELECT status, attempt, retry_of FROM job_runs WHERE retry_of = $1`, [runId])).rows[0];
    }
  } finally {
    await s.stop();
  }
  assert.equal(first.status, 'failed');
  assert.equal(retry?.status, 'succeeded');
  assert.equal(retry?.attempt, 2);
  const { rows } = await db.pool.query(`SELECT to_regclass($1) AS t`, [part]);
  assert.equal(rows[0].t, null, 'the retry finished the archive');
  // The job metrics name the job in job_name (`job` is the scrape's own label in Prometheus).
  const text = await registry.metrics();
  assert.match(text, /^orchestry_ingest_job_runs_total\{job_name="archive",status="failed"\} 1$/m);
  assert.match(text, /^orchestry_ingest_job_runs_total\{job_name="archive",status="succeeded"\} 1$/m);
  assert.match(text, /^orchestry_ingest_job_last_success_timestamp_seconds\{job_name="archive"\} \d/m);
  assert.doesNotMatch(text, /\{job="/);
});
