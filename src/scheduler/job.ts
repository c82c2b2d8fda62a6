// What a job is: a name, a zod schema for its parameters, and a function run with a context.
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../log.ts';
import { DAY_MS } from '../partitions/index.ts';

export interface JobContext {
  pool: Pool;
  config: Config;
  logger: Logger;
  runId: number;
  /** Aborted when the scheduler stops: jobs check it between steps and stop early. */
  signal: AbortSignal;
  /** Records progress (stored on the run with the next heartbeat, shown on a terminal). */
  progress(p: Record<string, unknown>): void;
  /** Test-only fault injection: throws when a test asked to fail at `point`. */
  fault(point: string): void;
}

export interface JobResult {
  rowsAffected: number;
  details?: Record<string, unknown>;
}

export interface JobDefinition<P = Record<string, unknown>> {
  name: string;
  description: string;
  params: z.ZodType<P>;
  run(ctx: JobContext, params: P): Promise<JobResult>;
}

/** Type-erases a job for the registry. */
export const defineJob = <P>(job: JobDefinition<P>): JobDefinition<unknown> => job as JobDefinition<unknown>;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: DAY_MS } as const;

/** A duration parameter such as '14d', '12h' or '90m', as milliseconds. */
export const duration = z
  .string()
  .regex(/^\d{1,5}[mhd]$/, 'must be a whole number followed by m, h or d (e.g. 14d)')
  .transform((s) => Number(s.slice(0, -1)) * UNIT_MS[s.slice(-1) as keyof typeof UNIT_MS])
  .refine((ms) => ms > 0, 'must be positive');

/** Throws when the job was asked to stop. */
export function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new Error('interrupted: the scheduler is stopping');
}
