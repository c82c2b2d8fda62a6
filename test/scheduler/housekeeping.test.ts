// The retention job keeps the worker's own history bounded: finished job_runs and ingest_dead_letters
// records older than their retention go, each job's newest finished run and anything unfinished stay.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
const env = { RETENTION_JOB_RUNS_DAYS: '30', RETENTION_DEAD_LETTERS_DAYS: '10' };

before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

/** Inserts a job_runs row that was created and (unless unfinished) ended `daysAgo` days ago. */
async function run(job: string, status: string, daysAgo: number, retryOf: number | null = null): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO job_runs (job, trigger, status, retry_of, created_at, started_at, heartbeat_at, finished_at, attempt)
     VALUES ($1, 'cli', $2, $3, now() - make_interval(secs => $4::float8 * 86400), now() - make_interval(secs => $4::float8 * 86400), now() - make_interval(secs => $4::float8 * 86400),
             CASE WHEN $2 IN ('succeeded', 'failed') THEN now() - make_interval(secs => $4::float8 * 86400) END, CASE WHEN $3::bigint IS NULL THEN 1 ELSE 2 END)
     RETURNING id`,
    [job, status, retryOf, daysAgo],
  );
  return rows[0]!.id;
}

test("retention deletes old finished runs and dead-letter records, keeping each job's newest run and anything unfinished", async () => {
  const runs = {
    rollupsOld1: await run('rollups', 'succeeded', 45),
    rollupsOld2: await run('rollups', 'succeeded', 40),
    rollupsFailedOld: await run('rollups', 'failed', 35),
    rollupsRecent: await run('rollups', 'succeeded', 1),
    archiveOlder: await run('archive', 'succeeded', 90),
    archiveOnlyRecentOne: await run('archive', 'failed', 60),
    partitionsRunningOld: await run('partitions', 'running', 40),
    compressQueuedOld: await run('compress-events', 'queued', 40),
  };
  // A retry still inside retention points at a failed run that is past it.
  const retry = await run('rollups', 'succeeded', 20, runs.rollupsFailedOld);
  const recent2 = await run('rollups', 'succeeded', 0.5);

  await db.pool.query(
    `INSERT INTO ingest_dead_letters (topic, partition, "offset", error_code, error_message, dead_at)
     VALUES ('orchestry.stats', 0, 1, 'E_SCHEMA', 'old', now() - interval '11 days'),
            ('orchestry.stats', 0, 2, 'E_SCHEMA', 'older', now() - interval '200 days'),
            ('orchestry.stats', 0, 3, 'E_SCHEMA', 'recent', now() - interval '9 days'),
            ('orchestry.events', 1, 7, 'E_JSON', 'today', now())`,
  );

  const done = await runJob(db.pool, testConfig(db.url, env), 'retention');

  const { rows: left } = await db.pool.query<{ id: number; retry_of: number | null }>(`SELECT id, retry_of FROM job_runs WHERE id <> $1 ORDER BY id`, [done.id]);
  const want = [runs.rollupsRecent, runs.archiveOnlyRecentOne, runs.partitionsRunningOld, runs.compressQueuedOld, retry, recent2].sort((a, b) => a - b);
  assert.deepEqual(
    left.map((r) => r.id),
    want,
  );
  assert.equal(left.find((r) => r.id === retry)!.retry_of, null, 'the kept retry no longer points at the deleted run');

  const { rows: letters } = await db.pool.query<{ error_message: string }>(`SELECT error_message FROM ingest_dead_letters ORDER BY "offset"`);
  assert.deepEqual(letters.map((r) => r.error_message), ['recent', 'today']);

  assert.equal(done.rowsAffected, 4 + 2);
  const details = done.progress as Record<string, unknown>;
  assert.equal(details.jobRunsDeleted, 4);
  assert.equal(details.deadLetterRecordsDeleted, 2);
});

test('a second run deletes nothing more, and the newest finished run of a job is kept however old', async () => {
  const done = await runJob(db.pool, testConfig(db.url, env), 'retention');
  assert.equal(done.rowsAffected, 0);
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM job_runs WHERE job = 'archive'`);
  assert.equal(rows[0]!.n, 1);
});
