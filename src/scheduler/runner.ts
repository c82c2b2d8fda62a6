// Runs jobs: one run of a job at a time across all replicas, every run a job_runs row.
//
// Exclusion: a session advisory lock per job (pg_try_advisory_lock(JOBS_LOCK, hashtext(job)))
// held by this runner's lock connection for the whole run, plus the partial unique index
// job_runs_one_running as a backstop. A 'running' row is taken for a dead worker's only when the
// lock is free AND its heartbeat is older than staleMs; the next start of that job (or the sweep)
// marks it failed. Failed runs (schedule/api) get a queued retry row with capped exponential
// backoff, claimed by any ticking replica. Nothing here throws out of a run: `done` always
// resolves with the final row.
import type { Config } from '../config.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { errorMessage, IngestError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { JobContext, JobDefinition } from './job.ts';
import * as runs from './runs.ts';
import type { JobRun, JobTrigger } from './types.ts';

const JOBS_LOCK = 0x6a6f6273; // 'jobs'

export interface RunnerOptions {
  /** Attempts per run including the first (default 4). */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  heartbeatMs?: number;
  staleMs?: number;
  /** Test-only: fault points at which a job throws (e.g. 'archive:after-export'). */
  faults?: Set<string>;
  /** Called with each progress report (the CLI shows it on a terminal). */
  onProgress?: (run: JobRun, progress: Record<string, unknown>) => void;
}

export interface RunnerDeps extends RunnerOptions {
  config: Config;
  pool: Pool;
  logger: Logger;
  metrics?: Metrics;
  workerId: string;
  jobs: JobDefinition<unknown>[];
}

export interface JobRunner {
  jobs(): JobDefinition<unknown>[];
  /** A manual run (cli/api) now; E_JOB_UNKNOWN, E_SCHEMA or E_JOB_RUNNING otherwise. */
  trigger(job: string, params: unknown, trigger: Exclude<JobTrigger, 'schedule'>): Promise<{ runId: number; done: Promise<JobRun> }>;
  /** The run of `job` for cron tick `at`, unless some replica already ran that tick or the job runs. */
  runScheduled(job: string, at: Date): Promise<JobRun | undefined>;
  /** Starts the due queued retries; returns how many started. */
  runDueRetries(): Promise<number>;
  /** Marks failed the runs of workers that are gone. */
  sweepLost(): Promise<number>;
  getRun(id: number): Promise<JobRun | undefined>;
  listRuns(opts?: { job?: string; limit?: number }): Promise<JobRun[]>;
  /** Aborts runs in flight at their next step and waits for them to finish. */
  stop(): Promise<void>;
}

export function createJobRunner(deps: RunnerDeps): JobRunner {
  const { pool, logger, workerId } = deps;
  const maxAttempts = deps.maxAttempts ?? 4;
  const retryBaseMs = deps.retryBaseMs ?? 30_000;
  const retryMaxMs = deps.retryMaxMs ?? 600_000;
  const heartbeatMs = deps.heartbeatMs ?? 5_000;
  const staleMs = deps.staleMs ?? 30_000;
  const abort = new AbortController();
  const inFlight = new Map<string, Promise<JobRun>>();
  // One connection holds this runner's job locks; it goes back to the pool when none is held.
  interface LockConn { client: PoolClient; refs: number; broken: boolean; onError: () => void }
  let lockConn: LockConn | undefined;
  const held = new Map<string, LockConn>();

  const find = (name: string) => {
    const def = deps.jobs.find((j) => j.name === name);
    if (!def) throw new IngestError('E_JOB_UNKNOWN', `unknown job ${JSON.stringify(name)}; jobs: ${deps.jobs.map((j) => j.name).join(', ')}`);
    return def;
  };

  const parse = (def: JobDefinition<unknown>, params: unknown) => {
    const r = def.params.safeParse(params ?? {});
    if (r.success) return r.data;
    const reasons = r.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`);
    throw Object.assign(new IngestError('E_SCHEMA', `bad parameters for ${def.name}: ${reasons.join('; ')}`), { reasons });
  };

  function releaseRef(lc: LockConn): void {
    lc.refs--;
    if (lc.refs > 0) return;
    if (lockConn === lc) lockConn = undefined;
    lc.client.off('error', lc.onError);
    lc.client.release(lc.broken);
  }

  async function tryLock(job: string): Promise<boolean> {
    if (!lockConn || lockConn.broken) {
      const lc: LockConn = { client: await pool.connect(), refs: 0, broken: false, onError: () => (lc.broken = true) };
      lc.client.on('error', lc.onError);
      lockConn = lc;
    }
    const lc = lockConn;
    lc.refs++;
    try {
      const { rows } = await lc.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [JOBS_LOCK, job]);
      if (rows[0]?.ok) {
        held.set(job, lc);
        return true;
      }
    } catch (err) {
      lc.broken = true;
      releaseRef(lc);
      throw err;
    }
    releaseRef(lc);
    return false;
  }

  async function unlock(job: string): Promise<void> {
    const lc = held.get(job);
    if (!lc) return;
    held.delete(job);
    try {
      if (!lc.broken) await lc.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [JOBS_LOCK, job]);
    } catch {
      lc.broken = true;
    }
    releaseRef(lc);
  }

  /** Takes the lock, settles a dead worker's row, and makes the running row with `make`. */
  async function begin(job: string, make: (c: PoolClient) => Promise<JobRun | undefined>): Promise<JobRun | undefined> {
    if (inFlight.has(job) || !(await tryLock(job))) throw new IngestError('E_JOB_RUNNING', `job ${job} is running`);
    try {
      const run = await withTransaction(pool, async (c) => {
        if (await runs.settleRunning(c, job, staleMs)) throw new IngestError('E_JOB_RUNNING', `job ${job} is running`);
        return make(c);
      });
      if (!run) await unlock(job);
      return run;
    } catch (err) {
      await unlock(job);
      throw err;
    }
  }

  function execute(def: JobDefinition<unknown>, run: JobRun, params: unknown): Promise<JobRun> {
    const log = logger.child({ job: def.name, runId: run.id, trigger: run.trigger, attempt: run.attempt });
    let progress: Record<string, unknown> | undefined;
    const timer = setInterval(() => {
      runs.heartbeat(pool, run.id, progress).catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
    }, heartbeatMs);
    timer.unref();
    const ctx: JobContext = {
      pool,
      config: deps.config,
      logger: log,
      runId: run.id,
      signal: abort.signal,
      progress(p) {
        progress = p;
        deps.onProgress?.(run, p);
      },
      fault(point) {
        if (deps.faults?.has(point)) throw new Error(`fault injected at ${point}`);
      },
    };
    const started = process.hrtime.bigint();
    const done = (async (): Promise<JobRun> => {
      let outcome: { status: 'succeeded' | 'failed'; rowsAffected: number | null; error: string | null };
      try {
        log.info({ params }, 'job started');
        const res = await def.run(ctx, params);
        outcome = { status: 'succeeded', rowsAffected: res.rowsAffected, error: null };
        progress = { ...progress, ...res.details };
        log.info({ rowsAffected: res.rowsAffected, details: res.details }, 'job succeeded');
      } catch (err) {
        outcome = { status: 'failed', rowsAffected: null, error: errorMessage(err) };
        log.error({ err }, 'job failed');
      } finally {
        clearInterval(timer);
      }
      for (let i = 0; ; i++) {
        try {
          await runs.finishRun(pool, run.id, workerId, { ...outcome, progress });
          break;
        } catch (err) {
          if (i >= 4) {
            log.error({ err }, 'could not record the end of the run: it will be recovered as lost');
            break;
          }
          await new Promise((r) => setTimeout(r, 500 * 2 ** i));
        }
      }
      await unlock(def.name);
      inFlight.delete(def.name);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics?.jobRuns.inc({ job_name: def.name, status: outcome.status });
      deps.metrics?.jobDuration.observe({ job_name: def.name }, seconds);
      if (outcome.status === 'succeeded') deps.metrics?.jobLastSuccess.set({ job_name: def.name }, Date.now() / 1000);
      if (outcome.status === 'failed' && run.trigger !== 'cli' && run.attempt < maxAttempts) {
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** (run.attempt - 1));
        const id = await runs.queueRetry(pool, run, delay).catch((err: unknown) => log.error({ err }, 'could not queue a retry'));
        log.info({ retryRunId: id, delayMs: delay }, 'retry queued');
      }
      return (await runs.getRun(pool, run.id).catch(() => undefined)) ?? { ...run, status: outcome.status, error: outcome.error };
    })();
    inFlight.set(def.name, done);
    return done;
  }

  return {
    jobs: () => deps.jobs,
    async trigger(job, params, trigger) {
      const def = find(job);
      const parsed = parse(def, params);
      const run = await begin(job, (c) => runs.insertRunning(c, { job, trigger, params: params ?? {}, scheduledFor: null, workerId }));
      if (!run) throw new IngestError('E_JOB_RUNNING', `job ${job} is running`);
      return { runId: run.id, done: execute(def, run, parsed) };
    },
    async runScheduled(job, at) {
      const def = find(job);
      const run = await begin(job, (c) => runs.insertRunning(c, { job, trigger: 'schedule', params: {}, scheduledFor: at, workerId }));
      if (run) void execute(def, run, parse(def, {}));
      return run;
    },
    async runDueRetries() {
      let started = 0;
      for (const q of await runs.dueQueued(pool)) {
        if (abort.signal.aborted || inFlight.has(q.job)) continue;
        const def = deps.jobs.find((j) => j.name === q.job);
        if (!def) continue;
        try {
          const run = await begin(q.job, (c) => runs.claimQueued(c, q.id, workerId));
          if (!run) continue;
          let params: unknown;
          try {
            params = parse(def, run.params);
          } catch (err) {
            await runs.finishRun(pool, run.id, workerId, { status: 'failed', rowsAffected: null, error: errorMessage(err), progress: undefined });
            await unlock(q.job);
            continue;
          }
          void execute(def, run, params);
          started++;
        } catch (err) {
          if (!(err instanceof IngestError && err.code === 'E_JOB_RUNNING')) throw err;
        }
      }
      return started;
    },
    async sweepLost() {
      let n = 0;
      for (const job of await runs.staleRunning(pool, staleMs)) {
        if (inFlight.has(job) || !(await tryLock(job))) continue;
        try {
          await withTransaction(pool, async (c) => {
            if (!(await runs.settleRunning(c, job, staleMs))) n++;
          });
        } finally {
          await unlock(job);
        }
      }
      return n;
    },
    getRun: (id) => runs.getRun(pool, id),
    listRuns: (opts) => runs.listRuns(pool, opts),
    async stop() {
      abort.abort();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
