// Shared by the scheduler tests: a config for a test database, a silent logger, a runner.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Pool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/log.ts';
import { DAY_MS, dayOf } from '../../src/partitions/index.ts';
import { createRunner, type RunnerOptions } from '../../src/scheduler/index.ts';
import type { JobRun } from '../../src/scheduler/types.ts';

export const silent = createLogger({ level: 'silent' });

export function testConfig(url: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: url, ARCHIVE_DIR: mkdtempSync(join(tmpdir(), 'orchestry-archive-')), LOG_LEVEL: 'silent', ...env });
}

export function runnerFor(pool: Pool, config: Config, opts: RunnerOptions & { workerId?: string } = {}) {
  return createRunner({ config, pool, logger: silent, workerId: opts.workerId ?? 'test-worker', ...opts });
}

/** Runs `job` through a runner and returns the finished run; throws when it failed. */
export async function runJob(pool: Pool, config: Config, job: string, params: Record<string, unknown> = {}, opts: RunnerOptions = {}): Promise<JobRun> {
  const runner = runnerFor(pool, config, opts);
  const { done } = await runner.trigger(job, params, 'cli');
  const run = await done;
  await runner.stop();
  if (run.status !== 'succeeded') throw new Error(`${job} failed: ${run.error}`);
  return run;
}

/** Names of the tables attached under `parent`. */
export async function childrenOf(pool: Pool, parent: string): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1`,
    [parent],
  );
  return rows.map((r) => r.name);
}

/** YYYYMMDD of UTC today plus `n` days. */
export const dayTag = (n: number) => dayIso(n).replace(/-/g, '');
export const dayIso = (n: number) => dayOf(Date.now() + n * DAY_MS);
