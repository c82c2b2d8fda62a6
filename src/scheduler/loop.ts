// The ticking loop: cron schedules evaluated in database time (UTC), each tick run once across
// replicas (the tick's job_runs row is an upsert on (job, scheduled_for, attempt)), due retries
// claimed, lost runs swept. It never throws: errors are logged and the loop backs off; stop()
// waits for the current iteration.
import { Cron } from 'croner';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../db/pool.ts';
import { IngestError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { JobRunner } from './runner.ts';

export interface TickOptions {
  /** Longest sleep between iterations (retries and sweeps are checked this often). */
  pollMs?: number;
  /** A tick missed by at most this much (e.g. during a restart) still runs. */
  catchUpMs?: number;
  sweepEveryMs?: number;
}

export function startTicking(
  runner: JobRunner,
  deps: { pool: Pool; logger: Logger; schedules: Record<string, string> } & TickOptions,
): { stop(): Promise<void> } {
  const { pool, logger } = deps;
  const pollMs = deps.pollMs ?? 5_000;
  const catchUpMs = deps.catchUpMs ?? 60_000;
  const sweepEveryMs = deps.sweepEveryMs ?? 30_000;
  const crons = Object.entries(deps.schedules).map(([job, expr]) => ({
    job,
    cron: new Cron(expr, { timezone: 'UTC', paused: true }),
    next: undefined as Date | undefined,
  }));
  const wake = new AbortController();
  let stopped = false;
  let lastSweep = 0;
  let failures = 0;

  const fire = (job: string, at: Date) =>
    runner.runScheduled(job, at).then(
      (run) => logger.debug({ job, at, runId: run?.id }, run ? 'tick started a run' : 'tick already ran elsewhere'),
      (err: unknown) => {
        if (err instanceof IngestError && err.code === 'E_JOB_RUNNING') logger.info({ job, at }, 'tick skipped: the job is still running');
        else logger.warn({ err, job, at }, 'could not start a scheduled run');
      },
    );

  async function iteration(): Promise<number> {
    const { rows } = await pool.query<{ now: Date }>('SELECT now() AS now');
    const dbNow = rows[0]!.now;
    const offset = dbNow.getTime() - Date.now();
    const starts: Promise<void>[] = [];
    for (const c of crons) {
      c.next ??= c.cron.nextRun(new Date(dbNow.getTime() - catchUpMs)) ?? undefined;
      if (c.next && c.next <= dbNow) {
        let t = c.next;
        for (let n = c.cron.nextRun(t); n && n <= dbNow; n = c.cron.nextRun(t)) t = n; // only the latest due tick
        starts.push(fire(c.job, t));
        c.next = c.cron.nextRun(t) ?? undefined;
      }
    }
    await Promise.all(starts);
    await runner.runDueRetries();
    if (Date.now() - lastSweep > sweepEveryMs) {
      lastSweep = Date.now();
      const lost = await runner.sweepLost();
      if (lost > 0) logger.warn({ lost }, 'runs of lost workers marked failed');
    }
    const nextAt = Math.min(...crons.map((c) => c.next?.getTime() ?? Infinity));
    return Math.max(20, Math.min(pollMs, nextAt - (Date.now() + offset)));
  }

  const loop = (async () => {
    while (!stopped) {
      let waitMs: number;
      try {
        waitMs = await iteration();
        failures = 0;
      } catch (err) {
        failures++;
        waitMs = Math.min(pollMs * 6, 500 * 2 ** Math.min(failures, 6));
        logger.warn({ err, failures, retryInMs: waitMs }, 'scheduler iteration failed');
      }
      if (stopped) break;
      await sleep(waitMs, undefined, { signal: wake.signal }).catch(() => {});
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake.abort();
      await loop;
    },
  };
}
