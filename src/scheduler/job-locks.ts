// The runner's job locks: a session advisory lock per job (pg_try_advisory_lock(JOBS_LOCK,
// hashtext(job))), all held on one guarded connection that goes back to the pool when none is held.
// A connection that broke is replaced at the next lock; its locks went with its session.
import { checkoutGuarded, type GuardedClient } from '../db/guard.ts';
import type { Pool } from '../db/pool.ts';

const JOBS_LOCK = 0x6a6f6273; // 'jobs'

interface LockConn {
  conn: GuardedClient;
  refs: number;
}

export interface JobLocks {
  /** Takes the job's lock without waiting; false when another session holds it. */
  tryLock(job: string): Promise<boolean>;
  /** Releases the job's lock, if this runner holds it. */
  unlock(job: string): Promise<void>;
}

export function createJobLocks(pool: Pool): JobLocks {
  let current: LockConn | undefined;
  const held = new Map<string, LockConn>();

  function releaseRef(lc: LockConn): void {
    lc.refs--;
    if (lc.refs > 0) return;
    if (current === lc) current = undefined;
    lc.conn.release();
  }

  return {
    async tryLock(job) {
      if (!current || current.conn.broken()) current = { conn: await checkoutGuarded(pool), refs: 0 };
      const lc = current;
      lc.refs++;
      try {
        const { rows } = await lc.conn.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [JOBS_LOCK, job]);
        if (rows[0]?.ok) {
          held.set(job, lc);
          return true;
        }
      } catch (err) {
        lc.conn.markBroken();
        releaseRef(lc);
        throw err;
      }
      releaseRef(lc);
      return false;
    },

    async unlock(job) {
      const lc = held.get(job);
      if (!lc) return;
      held.delete(job);
      try {
        if (!lc.conn.broken()) await lc.conn.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [JOBS_LOCK, job]);
      } catch {
        lc.conn.markBroken();
      }
      releaseRef(lc);
    },
  };
}
