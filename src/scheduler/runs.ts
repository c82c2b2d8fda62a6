// The job history (job_runs): one small function per statement.
import type { Pool, PoolClient } from '../db/pool.ts';
import type { JobRun, JobTrigger } from './types.ts';

const COLS = `id, job, trigger, params, status, attempt, started_at, finished_at, rows_affected, error, progress,
              scheduled_for, run_after, worker_id`;

interface Row {
  id: number; job: string; trigger: JobTrigger; params: Record<string, unknown>; status: JobRun['status']; attempt: number;
  started_at: Date | null; finished_at: Date | null; rows_affected: number | null; error: string | null; progress: unknown;
  scheduled_for: Date | null; run_after: Date | null; worker_id: string | null;
}

const toRun = (r: Row): JobRun => ({
  id: r.id, job: r.job, trigger: r.trigger, params: r.params, status: r.status, attempt: r.attempt,
  startedAt: r.started_at, finishedAt: r.finished_at, rowsAffected: r.rows_affected, error: r.error,
  progress: r.progress, scheduledFor: r.scheduled_for, runAfter: r.run_after, workerId: r.worker_id,
});

export async function getRun(db: Pool, id: number): Promise<JobRun | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${COLS} FROM job_runs WHERE id = $1`, [id]);
  return rows[0] && toRun(rows[0]);
}

export async function listRuns(db: Pool, opts: { job?: string; limit?: number } = {}): Promise<JobRun[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLS} FROM job_runs WHERE ($1::text IS NULL OR job = $1) ORDER BY id DESC LIMIT $2`,
    [opts.job ?? null, opts.limit ?? 20],
  );
  return rows.map(toRun);
}

/**
 * Under the job's advisory lock: a 'running' row of `job` whose heartbeat is older than `staleMs`
 * belongs to a worker that is gone (it would hold the lock otherwise): it is marked failed.
 * Returns true when a live run remains (heartbeat fresh).
 */
export async function settleRunning(c: PoolClient, job: string, staleMs: number): Promise<boolean> {
  const { rows } = await c.query<{ id: number; fresh: boolean }>(
    `SELECT id, heartbeat_at > now() - make_interval(secs => $2::float8 / 1000) AS fresh
       FROM job_runs WHERE job = $1 AND status = 'running' FOR UPDATE`,
    [job, staleMs],
  );
  if (rows[0]?.fresh) return true;
  if (rows[0]) {
    await c.query(
      `UPDATE job_runs SET status = 'failed', finished_at = now(), error = 'worker lost: no heartbeat and its lock was free' WHERE id = $1`,
      [rows[0].id],
    );
  }
  return false;
}

/** Inserts a running row; undefined when a unique index says no (this tick already ran). */
export async function insertRunning(
  c: PoolClient,
  r: { job: string; trigger: JobTrigger; params: unknown; scheduledFor: Date | null; workerId: string },
): Promise<JobRun | undefined> {
  const { rows } = await c.query<Row>(
    `INSERT INTO job_runs (job, trigger, params, status, scheduled_for, worker_id, started_at, heartbeat_at)
     VALUES ($1, $2, $3, 'running', $4, $5, now(), now())
     ON CONFLICT DO NOTHING RETURNING ${COLS}`,
    [r.job, r.trigger, JSON.stringify(r.params ?? {}), r.scheduledFor, r.workerId],
  );
  return rows[0] && toRun(rows[0]);
}

/** Turns a due queued retry into a running row; undefined when another worker took it. */
export async function claimQueued(c: PoolClient, id: number, workerId: string): Promise<JobRun | undefined> {
  const { rows } = await c.query<Row>(
    `UPDATE job_runs SET status = 'running', worker_id = $2, started_at = now(), heartbeat_at = now()
      WHERE id = $1 AND status = 'queued' AND run_after <= now() RETURNING ${COLS}`,
    [id, workerId],
  );
  return rows[0] && toRun(rows[0]);
}

export async function dueQueued(db: Pool): Promise<{ id: number; job: string }[]> {
  const { rows } = await db.query<{ id: number; job: string }>(
    `SELECT id, job FROM job_runs WHERE status = 'queued' AND run_after <= now() ORDER BY run_after LIMIT 20`,
  );
  return rows;
}

export async function heartbeat(db: Pool, id: number, progress: unknown): Promise<void> {
  await db.query(`UPDATE job_runs SET heartbeat_at = now(), progress = coalesce($2, progress) WHERE id = $1 AND status = 'running'`, [
    id,
    progress === undefined ? null : JSON.stringify(progress),
  ]);
}

export async function finishRun(
  db: Pool,
  id: number,
  workerId: string,
  r: { status: 'succeeded' | 'failed'; rowsAffected: number | null; error: string | null; progress: unknown },
): Promise<void> {
  await db.query(
    `UPDATE job_runs SET status = $3, finished_at = now(), rows_affected = $4, error = $5, progress = coalesce($6, progress)
      WHERE id = $1 AND worker_id = $2 AND status = 'running'`,
    [id, workerId, r.status, r.rowsAffected, r.error, r.progress === undefined ? null : JSON.stringify(r.progress)],
  );
}

/** Queues the next attempt of a failed run, due after `delayMs`. */
export async function queueRetry(db: Pool, run: JobRun, delayMs: number): Promise<number | undefined> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO job_runs (job, trigger, params, status, scheduled_for, attempt, retry_of, run_after)
     VALUES ($1, $2, $3, 'queued', $4, $5, $6, now() + make_interval(secs => $7::float8 / 1000))
     ON CONFLICT DO NOTHING RETURNING id`,
    [run.job, run.trigger, JSON.stringify(run.params), run.scheduledFor, run.attempt + 1, run.id, delayMs],
  );
  return rows[0]?.id;
}

/**
 * Deletes finished runs that ended more than `days` ago, always keeping each job's newest finished
 * run (so a monthly job still shows its last outcome). Queued and running rows are never touched.
 * The runs kept are found once (a row per job, hashed), not per deleted row: the first run on a
 * table that grew for a year deletes half a million rows.
 */
export async function deleteOldRuns(db: Pool, days: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM job_runs r
      WHERE r.status IN ('succeeded', 'failed') AND r.finished_at < now() - make_interval(days => $1)
        AND r.id NOT IN (SELECT max(id) FROM job_runs WHERE status IN ('succeeded', 'failed') GROUP BY job)`,
    [days],
  );
  return rowCount ?? 0;
}

/** Running rows with a stale heartbeat (candidates for recovery). */
export async function staleRunning(db: Pool, staleMs: number): Promise<string[]> {
  const { rows } = await db.query<{ job: string }>(
    `SELECT job FROM job_runs WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)`,
    [staleMs],
  );
  return rows.map((r) => r.job);
}
