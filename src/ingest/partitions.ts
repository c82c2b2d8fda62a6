// Daily partitions on demand: before a batch is written, every UTC day it touches must have its
// partition (late data inside retention included). Made outside the batch's transaction. A day
// that was archived (archive_ledger), is left detached, or cannot be made is reported unavailable:
// its rows are dead-lettered (E_OUT_OF_RANGE) rather than retried against a missing partition.
import type { Pool } from '../db/pool.ts';

const DAY_MS = 86_400_000;
const ensured = new WeakMap<Pool, Set<string>>();

export const dayOf = (ms: number) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

type Parent = 'metrics' | 'events';

// A table of the day's name left detached (an archive in progress) exists but takes no rows.
// Ingestion writes instance-level metrics: their leaf is what the archive job records and detaches.
const CHECK_DAY = `
  WITH n AS (SELECT $1::text || '_p' || to_char($2::date, 'YYYYMMDD') AS part)
  SELECT EXISTS (SELECT 1 FROM pg_inherits, n WHERE inhrelid = to_regclass(format('%I', n.part)) AND inhparent = to_regclass(format('%I', $1::text)))
     AND ($1 <> 'metrics' OR EXISTS (SELECT 1 FROM pg_inherits, n WHERE inhrelid = to_regclass(format('%I', n.part || '_instance')) AND inhparent = to_regclass(format('%I', n.part))))
     AS available`;

/** Whether rows of `day` can go to `parent`: archived days are refused before anything is made. */
async function ensureDay(pool: Pool, parent: Parent, day: string): Promise<boolean> {
  const archived = await pool.query(
    `SELECT 1 FROM archive_ledger WHERE partition = $1 || '_p' || to_char($2::date, 'YYYYMMDD') || CASE $1 WHEN 'metrics' THEN '_instance' ELSE '' END`,
    [parent, day],
  );
  if (archived.rowCount) return false;
  try {
    await pool.query('SELECT orchestry_ensure_day_partition($1, $2::date)', [parent, day]);
  } catch (err) {
    // 42P17 (bounds overlap another partition), 42809 (a table of another kind took the name), 22008 (date out of range).
    if (!['42P17', '42809', '22008'].includes((err as { code?: string }).code ?? '')) throw err;
    return false;
  }
  const { rows } = await pool.query<{ available: boolean }>(CHECK_DAY, [parent, day]);
  return rows[0]?.available === true;
}

/**
 * Makes the partitions of the days of `timestampsMs` (and today's events, for placeholder
 * registrations); returns the days ("YYYY-MM-DD") that cannot take rows.
 */
export async function ensureDayPartitions(pool: Pool, parent: Parent, timestampsMs: number[]): Promise<Set<string>> {
  let seen = ensured.get(pool);
  if (!seen) ensured.set(pool, (seen = new Set()));
  const wanted = new Set<string>();
  for (const ms of timestampsMs) wanted.add(`${parent}:${dayOf(ms)}`);
  // Placeholder-registration events are stamped with the current time.
  wanted.add(`events:${dayOf(Date.now())}`);
  const unavailable = new Set<string>();
  for (const key of wanted) {
    if (seen.has(key)) continue;
    const [table, day] = key.split(':') as [Parent, string];
    if (await ensureDay(pool, table, day)) seen.add(key);
    else if (table === parent) unavailable.add(day);
  }
  return unavailable;
}

/** Forgets what was ensured (after a partition was dropped or detached under us). */
export function forgetPartitions(pool: Pool): void {
  ensured.delete(pool);
}
