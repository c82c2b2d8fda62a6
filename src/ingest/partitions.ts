// Daily partitions on demand: before a batch is written, every UTC day it touches must have its
// partition (late data inside retention included). Made outside the batch's transaction.
import type { Pool } from '../db/pool.ts';

const DAY_MS = 86_400_000;
const ensured = new WeakMap<Pool, Set<string>>();

const dayOf = (ms: number) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

export async function ensureDayPartitions(pool: Pool, parent: 'metrics' | 'events', timestampsMs: number[]): Promise<void> {
  let seen = ensured.get(pool);
  if (!seen) ensured.set(pool, (seen = new Set()));
  const wanted = new Set<string>();
  for (const ms of timestampsMs) wanted.add(`${parent}:${dayOf(ms)}`);
  // Placeholder-registration events are stamped with the current time.
  wanted.add(`events:${dayOf(Date.now())}`);
  for (const key of wanted) {
    if (seen.has(key)) continue;
    const [table, day] = key.split(':') as [string, string];
    await pool.query('SELECT orchestry_ensure_day_partition($1, $2::date)', [table, day]);
    seen.add(key);
  }
}

/** Forgets what was ensured (after a partition was dropped or detached under us). */
export function forgetPartitions(pool: Pool): void {
  ensured.delete(pool);
}
