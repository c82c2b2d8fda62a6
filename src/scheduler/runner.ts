// Runs jobs: one run of a job at a time across all replicas, every run a job_runs row.
//
// Exclusion: a session advisory lock per job (job-locks.ts) held by this runner's lock connection
// for the whole run, plus the partial unique index job_runs_one_running as a backstop. A
// 'running' row is taken for a dead worker's only when the lock is free AND its heartbeat is older
// than staleMs; the next start of that job (or the sweep) marks it failed. Failed runs
// (schedule/api) get a queued retry row with capped exponential backoff, claimed by any ticking
// replica. Nothing here throws out of a run: `done` always resolves with the final row.
import type { Config } from '../config.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { errorMessage, IngestError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { JobContext, JobDefinition } from './job.ts';
import { createJobLocks, type JobLocks } from './job-locks.ts';
import * as runs from './runs.ts';
import { JobParamsError, type JobRun, type JobTrigger } from './types.ts';

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
  /** A manual run (cli/api) now; E_JOB_UNKNOWN, E_JOB_PARAMS or E_JOB_RUNNING otherwise. */
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

type Outcome = { status: 'succeeded' | 'failed'; rowsAffected: number | null; error: string | null };

/** What every step of a run needs: the dependencies, the settings with defaults, the runs in flight. */
interface Runtime {
  deps: RunnerDeps;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  heartbeatMs: number;
  staleMs: number;
  abort: AbortController;
  inFlight: Map<string, Promise<JobRun>>;
  locks: JobLocks;
}

const running = (job: string) => new IngestError('E_JOB_RUNNING', `job ${job} is running`);

function findJob(jobs: JobDefinition<unknown>[], name: string): JobDefinition<unknown> {
  const def = jobs.find((j) => j.name === name);
  if (!def) throw new IngestError('E_JOB_UNKNOWN', `unknown job ${JSON.stringify(name)}; jobs: ${jobs.map((j) => j.name).join(', ')}`);
  return def;
}

function parseParams(def: JobDefinition<unknown>, params: unknown): unknown {
  const r = def.params.safeParse(params ?? {});
  if (r.success) return r.data;
  throw new JobParamsError(def.name, r.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`));
}

/** Takes the lock, settles a dead worker's row, and makes the running row with `make`. */
async function begin(rt: Runtime, job: string, make: (c: PoolClient) => Promise<JobRun | undefined>): Promise<JobRun | undefined> {
  if (rt.inFlight.has(job) || !(await rt.locks.tryLock(job))) throw running(job);
  try {
    const run = await withTransaction(rt.deps.pool, async (c) => {
      if (await runs.settleRunning(c, job, rt.staleMs)) throw running(job);
      return make(c);
    });
    if (!run) await rt.locks.unlock(job);
    return run;
  } catch (err) {
    await rt.locks.unlock(job);
    throw err;
  }
}

/** Records the end of the run, retrying a few times; a row left 'running' is recovered as lost. */
async function recordEnd(rt: Runtime, run: JobRun, outcome: Outcome, progress: unknown, log: Logger): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await runs.finishRun(rt.deps.pool, run.id, rt.deps.workerId, { ...outcome, progress });
      return;
    } catch (err) {
      if (i >= 4) {
        log.error({ err }, 'could not record the end of the run: it will be recovered as lost');
        return;
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** i));
    }
  }
}

function observe(metrics: Metrics | undefined, job: string, outcome: Outcome, seconds: number): void {
  metrics?.jobRuns.inc({ job_name: job, status: outcome.status });
  metrics?.jobDuration.observe({ job_name: job }, seconds);
  if (outcome.status === 'succeeded') metrics?.jobLastSuccess.set({ job_name: job }, Date.now() / 1000);
}

/** A failed scheduled or API run gets a queued retry with capped exponential backoff (CLI runs do not). */
async function queueRetryIfDue(rt: Runtime, run: JobRun, outcome: Outcome, log: Logger): Promise<void> {
  if (outcome.status !== 'failed' || run.trigger === 'cli' || run.attempt >= rt.maxAttempts) return;
  const delay = Math.min(rt.retryMaxMs, rt.retryBaseMs * 2 ** (run.attempt - 1));
  const id = await runs.queueRetry(rt.deps.pool, run, delay).catch((err: unknown) => log.error({ err }, 'could not queue a retry'));
  log.info({ retryRunId: id, delayMs: delay }, 'retry queued');
}

/** Runs the job with heartbeats carrying its latest progress; never throws. */
async function runJob(rt: Runtime, def: JobDefinition<unknown>, run: JobRun, params: unknown, log: Logger): Promise<{ outcome: Outcome; progress: Record<string, unknown> | undefined }> {
  const { deps } = rt;
  let progress: Record<string, unknown> | undefined;
  const timer = setInterval(() => {
    runs.heartbeat(deps.pool, run.id, progress).catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
  }, rt.heartbeatMs);
  timer.unref();
  const ctx: JobContext = {
    pool: deps.pool,
    config: deps.config,
    logger: log,
    runId: run.id,
    signal: rt.abort.signal,
    progress(p) {
      progress = p;
      deps.onProgress?.(run, p);
    },
    fault(point) {
      if (deps.faults?.has(point)) throw new Error(`fault injected at ${point}`);
    },
  };
  try {
    log.info({ params }, 'job started');
    const res = await def.run(ctx, params);
    log.info({ rowsAffected: res.rowsAffected, details: res.details }, 'job succeeded');
    return { outcome: { status: 'succeeded', rowsAffected: res.rowsAffected, error: null }, progress: { ...progress, ...res.details } };
  } catch (err) {
    log.error({ err }, 'job failed');
    return { outcome: { status: 'failed', rowsAffected: null, error: errorMessage(err) }, progress };
  } finally {
    clearInterval(timer);
  }
}

function execute(rt: Runtime, def: JobDefinition<unknown>, run: JobRun, params: unknown): Promise<JobRun> {
  const log = rt.deps.logger.child({ job: def.name, runId: run.id, trigger: run.trigger, attempt: run.attempt });
  const started = process.hrtime.bigint();
  const done = (async (): Promise<JobRun> => {
    const { outcome, progress } = await runJob(rt, def, run, params, log);
    await recordEnd(rt, run, outcome, progress, log);
    await rt.locks.unlock(def.name);
    rt.inFlight.delete(def.name);
    observe(rt.deps.metrics, def.name, outcome, Number(process.hrtime.bigint() - started) / 1e9);
    await queueRetryIfDue(rt, run, outcome, log);
    return (await runs.getRun(rt.deps.pool, run.id).catch(() => undefined)) ?? { ...run, status: outcome.status, error: outcome.error };
  })();
  rt.inFlight.set(def.name, done);
  return done;
}

/** Claims and starts one queued retry; false when it was not started (taken, gone, or bad params). */
async function startQueued(rt: Runtime, q: { id: number; job: string }): Promise<boolean> {
  const def = rt.deps.jobs.find((j) => j.name === q.job);
  if (!def) return false;
  try {
    const run = await begin(rt, q.job, (c) => runs.claimQueued(c, q.id, rt.deps.workerId));
    if (!run) return false;
    let params: unknown;
    try {
      params = parseParams(def, run.params);
    } catch (err) {
      await runs.finishRun(rt.deps.pool, run.id, rt.deps.workerId, { status: 'failed', rowsAffected: null, error: errorMessage(err), progress: undefined });
      await rt.locks.unlock(q.job);
      return false;
    }
    void execute(rt, def, run, params);
    return true;
  } catch (err) {
    if (!(err instanceof IngestError && err.code === 'E_JOB_RUNNING')) throw err;
    return false;
  }
}

async function sweepLost(rt: Runtime): Promise<number> {
  let n = 0;
  for (const job of await runs.staleRunning(rt.deps.pool, rt.staleMs)) {
    if (rt.inFlight.has(job) || !(await rt.locks.tryLock(job))) continue;
    try {
      await withTransaction(rt.deps.pool, async (c) => {
        if (!(await runs.settleRunning(c, job, rt.staleMs))) n++;
      });
    } finally {
      await rt.locks.unlock(job);
    }
  }
  return n;
}

export function createJobRunner(deps: RunnerDeps): JobRunner {
  const { pool, workerId } = deps;
  const rt: Runtime = {
    deps,
    maxAttempts: deps.maxAttempts ?? 4,
    retryBaseMs: deps.retryBaseMs ?? 30_000,
    retryMaxMs: deps.retryMaxMs ?? 600_000,
    heartbeatMs: deps.heartbeatMs ?? 5_000,
    staleMs: deps.staleMs ?? 30_000,
    abort: new AbortController(),
    inFlight: new Map(),
    locks: createJobLocks(pool),
  };
  return {
    jobs: () => deps.jobs,
    async trigger(job, params, trigger) {
      const def = findJob(deps.jobs, job);
      const parsed = parseParams(def, params);
      const run = await begin(rt, job, (c) => runs.insertRunning(c, { job, trigger, params: params ?? {}, scheduledFor: null, workerId }));
      if (!run) throw running(job);
      return { runId: run.id, done: execute(rt, def, run, parsed) };
    },
    async runScheduled(job, at) {
      const def = findJob(deps.jobs, job);
      const run = await begin(rt, job, (c) => runs.insertRunning(c, { job, trigger: 'schedule', params: {}, scheduledFor: at, workerId }));
      if (run) void execute(rt, def, run, parseParams(def, {}));
      return run;
    },
    async runDueRetries() {
      let started = 0;
      for (const q of await runs.dueQueued(pool)) {
        if (rt.abort.signal.aborted || rt.inFlight.has(q.job)) continue;
        if (await startQueued(rt, q)) started++;
      }
      return started;
    },
    sweepLost: () => sweepLost(rt),
    getRun: (id) => runs.getRun(pool, id),
    listRuns: (opts) => runs.listRuns(pool, opts),
    async stop() {
      rt.abort.abort();
      await Promise.allSettled([...rt.inFlight.values()]);
    },
  };
}
