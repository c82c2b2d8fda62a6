// Partition DDL shared by the jobs: listing day partitions, and detaching/dropping them with
// bounded lock waits. DETACH ... CONCURRENTLY takes only SHARE UPDATE EXCLUSIVE on the parent, so
// ingestion (ROW EXCLUSIVE) keeps writing; each statement waits at most LOCK_TIMEOUT_MS for its
// locks, and is retried with backoff instead of queueing in front of ingestion.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withClient } from '../db/tx.ts';
import { quoteIdent } from '../db/ident.ts';
import { sqlState } from '../errors.ts';

export type DayParent = 'metrics' | 'events' | 'metric_rollups';
export const LOCK_TIMEOUT_MS = 3000;
const LOCK_RETRIES = 8;

export interface ChildPartition {
  name: string;
  /** The UTC day (YYYY-MM-DD) from the name; undefined for a table not named <parent>_pYYYYMMDD[_level]. */
  day: string | undefined;
  /** 'instance' or 'app' for a metrics leaf, undefined for a day partition. */
  level: 'instance' | 'app' | undefined;
  partitioned: boolean;
  detachPending: boolean;
}

const NAME = /^(?:metrics|events|metric_rollups)_p(\d{4})(\d{2})(\d{2})(?:_(instance|app))?$/;

/** The partitions directly under `parent`. */
export async function listChildren(db: Pool | PoolClient, parent: string): Promise<ChildPartition[]> {
  const { rows } = await db.query<{ name: string; partitioned: boolean; pending: boolean }>(
    `SELECT c.relname AS name, c.relkind = 'p' AS partitioned, i.inhdetachpending AS pending
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`,
    [quoteIdent(parent)],
  );
  return rows.map((r) => {
    const m = NAME.exec(r.name);
    return {
      name: r.name,
      day: m ? `${m[1]}-${m[2]}-${m[3]}` : undefined,
      level: m?.[4] as ChildPartition['level'],
      partitioned: r.partitioned,
      detachPending: r.pending,
    };
  });
}

/** The name of the day partition of `parent` for `day` (YYYY-MM-DD), optionally a metrics leaf. */
export function partitionName(parent: DayParent, day: string, level?: 'instance' | 'app'): string {
  return `${parent}_p${day.replace(/-/g, '')}${level ? `_${level}` : ''}`;
}

async function withLockRetries<T>(client: PoolClient, what: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (err) {
      const s = sqlState(err);
      if ((s === '55P03' || s === '40P01') && attempt < LOCK_RETRIES) {
        await sleep(Math.min(250 * 2 ** attempt, 5000));
        continue;
      }
      throw err;
    }
  }
}

async function lockTimeout<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (c) => {
    await c.query(`SELECT set_config('lock_timeout', $1, false)`, [`${LOCK_TIMEOUT_MS}ms`]);
    try {
      return await fn(c);
    } finally {
      await c.query('RESET lock_timeout');
    }
  });
}

/** Detaches `child` from `parent` (CONCURRENTLY, or FINALIZE of an interrupted one); no-op when not attached. */
export async function detachPartition(pool: Pool, parent: string, child: string): Promise<boolean> {
  return lockTimeout(pool, (c) =>
    withLockRetries(c, async () => {
      const cur = (await listChildren(c, parent)).find((p) => p.name === child);
      if (!cur) return false;
      const mode = cur.detachPending ? 'FINALIZE' : 'CONCURRENTLY';
      await c.query(`ALTER TABLE ${quoteIdent(parent)} DETACH PARTITION ${quoteIdent(child)} ${mode}`);
      return true;
    }),
  );
}

/** Drops a table that is no longer attached (no lock on the parent is needed). */
export async function dropTable(pool: Pool, name: string): Promise<void> {
  await lockTimeout(pool, (c) => withLockRetries(c, () => c.query(`DROP TABLE IF EXISTS ${quoteIdent(name)}`)));
}

export async function detachAndDrop(pool: Pool, parent: string, child: string): Promise<void> {
  await detachPartition(pool, parent, child);
  await dropTable(pool, child);
}

/** Today's UTC date in database time, and the cutoff instant `now() - days`. */
export async function dbToday(pool: Pool): Promise<{ today: string; now: Date }> {
  const { rows } = await pool.query<{ today: string; now: Date }>(
    `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today, now() AS now`,
  );
  return rows[0]!;
}

/** YYYY-MM-DD plus `n` days. */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** True when every row of `day` is older than `now - days` (the day ended before the cutoff). */
export function dayExpired(day: string, now: Date, days: number): boolean {
  return Date.parse(`${day}T00:00:00Z`) + 86_400_000 <= now.getTime() - days * 86_400_000;
}
