// The scheduler: the jobs, a runner (usable alone, e.g. by the CLI) and the ticking loop.
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { archiveJob } from './archive.ts';
import { compressEventsJob } from './compress-events.ts';
import type { JobDefinition } from './job.ts';
import { startTicking, type TickOptions } from './loop.ts';
import { partitionsJob } from './partitions.ts';
import { retentionJob } from './retention.ts';
import { rollupsJob } from './rollups.ts';
import { createJobRunner, type JobRunner, type RunnerOptions } from './runner.ts';
import type { Scheduler } from './types.ts';

export type { JobRun, JobTrigger, Scheduler } from './types.ts';
export type { JobRunner, RunnerOptions } from './runner.ts';
export { restoreArchive } from '../archive/restore.ts';

export const JOBS: JobDefinition<unknown>[] = [partitionsJob, rollupsJob, retentionJob, archiveJob, compressEventsJob];

export type JobName = 'partitions' | 'rollups' | 'retention' | 'archive' | 'compress-events';

export interface SchedulerDeps extends RunnerOptions {
  config: Config;
  pool: Pool;
  logger: Logger;
  metrics?: Metrics;
  workerId: string;
}

/** A runner without the ticking loop (CLI, tests). */
export function createRunner(deps: SchedulerDeps): JobRunner {
  return createJobRunner({ ...deps, jobs: JOBS });
}

/**
 * Starts the scheduler: with `tick` (default true) the cron loop runs the jobs on their schedules
 * (config.scheduler.schedules, UTC); without it, runs happen only through trigger().
 */
export async function startScheduler(
  deps: SchedulerDeps & { metrics: Metrics; tick?: boolean; tickOptions?: TickOptions; schedules?: Partial<Record<JobName, string>> },
): Promise<Scheduler> {
  const runner = createRunner(deps);
  const schedules: Record<string, string> = { ...deps.config.scheduler.schedules, ...deps.schedules };
  const ticking =
    deps.tick === false
      ? undefined
      : startTicking(runner, { pool: deps.pool, logger: deps.logger, schedules, ...deps.tickOptions });
  return {
    jobs: () => JOBS.map((j) => ({ name: j.name, schedule: schedules[j.name] ?? '(none)', description: j.description })),
    trigger: (job, params, trigger) => runner.trigger(job, params, trigger),
    getRun: (id) => runner.getRun(id),
    listRuns: (opts) => runner.listRuns(opts),
    async stop() {
      await ticking?.stop();
      await runner.stop();
    },
  };
}
