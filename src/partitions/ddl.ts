// Partition DDL, every statement with a bounded lock wait: ensure (create and attach) day
// partitions, detach, drop. Each runs on a dedicated connection with lock_timeout set (3 s by
// default) and is retried with capped backoff when the lock does not come (55P03) or a deadlock
// picks it (40P01), instead of queueing in front of ingestion. Two sessions creating the same
// table at once: the later one fails on the catalog's unique index (23505, pg_type or pg_class) or on the row type it made (42710),
// and its retry finds the table made. Creating is CREATE TABLE then
// ATTACH (migration 000004), and DETACH ... CONCURRENTLY: both take only SHARE UPDATE EXCLUSIVE
// on the parent, so ingestion (ROW EXCLUSIVE) keeps writing meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { withClient } from '../db/tx.ts';
import { isCatalogRace, isLockContention } from '../db/errors.ts';
import { listChildren } from './catalog.ts';
import { LEVELS, type DayParent, type Level } from './names.ts';

export const LOCK_TIMEOUT_MS = 3000;

/** How long a statement waits for its locks, and how often it is tried. */
export interface LockOptions {
  /** lock_timeout of each statement (default 3000 ms). */
  lockTimeoutMs?: number;
  /** Tries of a statement whose lock did not come (default 8). */
  attempts?: number;
  /** Longest pause between tries (default 5000 ms; the pauses double from 500 ms). */
  maxBackoffMs?: number;
}

/** Ensure also retries a lost race to create the same table (db/errors.ts, isCatalogRace). */
const lockOrCatalogRace = (err: unknown) => isLockContention(err) || isCatalogRace(err);

/** Runs `fn` on a dedicated connection (outside any transaction) whose statements wait at most the lock timeout. */
async function withLockTimeout<T>(pool: Pool, opts: LockOptions, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (c) => {
    await c.query(`SELECT set_config('lock_timeout', $1, false)`, [`${opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS}ms`]);
    try {
      return await fn(c);
    } finally {
      await c.query('RESET lock_timeout');
    }
  });
}

/** Runs `what` again, with backoff, while it fails for want of a lock (or as `retryable` says). */
async function withLockRetries<T>(opts: LockOptions, what: () => Promise<T>, retryable: (err: unknown) => boolean = isLockContention): Promise<T> {
  const attempts = opts.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (err) {
      if (!retryable(err) || attempt >= attempts) throw err;
      await sleep(Math.min(250 * 2 ** attempt, opts.maxBackoffMs ?? 5000));
    }
  }
}

/**
 * One statement making what is missing of `parent`'s partition for `day` (for metrics, the
 * leaves of `levels`; null: both). No lock timeout of its own: restore runs it inside its
 * transaction; everyone else goes through ensureDayPartitions.
 */
export async function createDayPartition(db: Pool | PoolClient, parent: DayParent, day: string, levels: readonly Level[] | null = LEVELS): Promise<void> {
  await db.query('SELECT orchestry_ensure_day_partition($1, $2::date, $3::text[])', [parent, day, levels]);
}

/**
 * Makes the partitions of `parent` for `days` (YYYY-MM-DD, UTC) if missing; for metrics `levels`
 * picks the leaves (default both). Idempotent, and safe from several sessions at once.
 */
export async function ensureDayPartitions(pool: Pool, parent: DayParent, days: string[], levels: readonly Level[] = LEVELS, opts: LockOptions = {}): Promise<void> {
  if (days.length === 0) return;
  await withLockTimeout(pool, opts, async (c) => {
    for (const day of days) await withLockRetries(opts, () => createDayPartition(c, parent, day, levels), lockOrCatalogRace);
  });
}

/** Detaches `child` from `parent` (CONCURRENTLY, or FINALIZE of an interrupted one); false when it was not attached. */
export async function detachPartition(pool: Pool, parent: string, child: string, opts: LockOptions = {}): Promise<boolean> {
  return withLockTimeout(pool, opts, (c) =>
    withLockRetries(opts, async () => {
      const cur = (await listChildren(c, parent)).find((p) => p.name === child);
      if (!cur) return false;
      const mode = cur.detachPending ? 'FINALIZE' : 'CONCURRENTLY';
      await c.query(`ALTER TABLE ${quoteIdent(parent)} DETACH PARTITION ${quoteIdent(child)} ${mode}`);
      return true;
    }),
  );
}

/** Drops a table that is no longer attached (no lock on the parent is needed). */
export async function dropTable(pool: Pool, name: string, opts: LockOptions = {}): Promise<void> {
  await withLockTimeout(pool, opts, (c) => withLockRetries(opts, () => c.query(`DROP TABLE IF EXISTS ${quoteIdent(name)}`)));
}

export async function detachAndDrop(pool: Pool, parent: string, child: string, opts: LockOptions = {}): Promise<void> {
  await detachPartition(pool, parent, child, opts);
  await dropTable(pool, child, opts);
}

/** Drops metrics day partitions left without leaves (every leaf archived or dropped); returns how many. */
export async function dropEmptyMetricDays(pool: Pool): Promise<number> {
  let n = 0;
  for (const d of await listChildren(pool, 'metrics')) {
    if (d.partitioned && (await listChildren(pool, d.name)).length === 0) {
      await detachAndDrop(pool, 'metrics', d.name);
      n++;
    }
  }
  return n;
}
