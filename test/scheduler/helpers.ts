// Shared by the scheduler tests: a config for a test database, a silent logger, a runner (from
// tools/fixtures/jobs.ts, which the benchmark uses too), and what the tests check with them.
import type { Pool } from '../../src/db/pool.ts';
import { DAY_MS, dayOf } from '../../src/partitions/index.ts';

export { silent, testConfig, runnerFor, runJob } from '../../tools/fixtures/jobs.ts';

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
