// The scheduler's interface, as the worker, the HTTP admin routes and the CLI use it.
import { IngestError } from '../errors.ts';

export type JobTrigger = 'schedule' | 'cli' | 'api';

export interface JobRun {
  id: number;
  job: string;
  trigger: JobTrigger;
  params: Record<string, unknown>;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  rowsAffected: number | null;
  error: string | null;
  progress: unknown;
  /** The cron tick a scheduled run belongs to (null for cli/api runs). */
  scheduledFor: Date | null;
  /** When a queued retry becomes due. */
  runAfter: Date | null;
  workerId: string | null;
}

export interface Scheduler {
  /** Job names with their schedules. */
  jobs(): { name: string; schedule: string; description: string }[];
  /**
   * Starts a run of `job` now (not waiting for it). Throws IngestError E_JOB_UNKNOWN for an unknown
   * job, E_JOB_PARAMS (a JobParamsError, with the reasons) for bad params, E_JOB_RUNNING while that job runs anywhere.
   */
  trigger(job: string, params: unknown, trigger: Exclude<JobTrigger, 'schedule'>): Promise<{ runId: number; done: Promise<JobRun> }>;
  getRun(id: number): Promise<JobRun | undefined>;
  /** The latest runs, newest first, optionally of one job. */
  listRuns(opts?: { job?: string; limit?: number }): Promise<JobRun[]>;
  /** Stops the ticking loop and waits for runs in flight. */
  stop(): Promise<void>;
}

/** A job's parameters did not parse: E_JOB_PARAMS with one reason per bad field (CLI exit 2, HTTP 400). */
export class JobParamsError extends IngestError {
  constructor(job: string, readonly reasons: string[]) {
    super('E_JOB_PARAMS', `bad parameters for ${job}: ${reasons.join('; ')}`);
  }
}
