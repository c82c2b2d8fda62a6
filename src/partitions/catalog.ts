// What the database says about partitions: the tables attached under a parent (with what their
// names say), whether one table is attached under another, the ones archive_ledger has taken,
// the ones an operator restored (a table comment), and today's UTC day in database time.
import type { Pool, PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { DAY_PARENTS, parsePartitionName, type Level } from './names.ts';

type Db = Pool | PoolClient;

export interface ChildPartition {
  name: string;
  /** The UTC day (YYYY-MM-DD) from the name; undefined for a table not named <parent>_pYYYYMMDD[_level]. */
  day: string | undefined;
  /** 'instance' or 'app' for a metrics leaf, undefined for a day partition. */
  level: Level | undefined;
  partitioned: boolean;
  detachPending: boolean;
}

/** The partitions directly under `parent`, by name. */
export async function listChildren(db: Db, parent: string): Promise<ChildPartition[]> {
  const { rows } = await db.query<{ name: string; partitioned: boolean; pending: boolean }>(
    `SELECT c.relname AS name, c.relkind = 'p' AS partitioned, i.inhdetachpending AS pending
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`,
    [quoteIdent(parent)],
  );
  return rows.map((r) => {
    const n = parsePartitionName(r.name);
    return { name: r.name, day: n?.day, level: n?.level, partitioned: r.partitioned, detachPending: r.pending };
  });
}

/** Whether `child` exists and is attached under `parent` (a table left detached is not). */
export async function isAttached(db: Db, parent: string, child: string): Promise<boolean> {
  const { rows } = await db.query<{ attached: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($2) AND inhparent = to_regclass($1)) AS attached`,
    [quoteIdent(parent), quoteIdent(child)],
  );
  return rows[0]?.attached === true;
}

/** Whether archive_ledger has taken `partition` (in any generation): such a day is not made again. */
export async function isArchived(db: Db, partition: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM archive_ledger WHERE partition = $1', [partition]);
  return (rowCount ?? 0) > 0;
}

/** Names of the day partitions and leaves that exist (attached or not), or that archive_ledger has taken. */
export async function existingOrArchived(db: Db): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind IN ('r', 'p') AND relname LIKE ANY ($1::text[])
     UNION SELECT partition FROM archive_ledger`,
    [DAY_PARENTS.map((p) => `${p.replace(/_/g, '\\_')}\\_p%`)],
  );
  return new Set(rows.map((x) => x.name).filter((n) => parsePartitionName(n) !== undefined));
}

/** The comment `archive restore` puts on a partition it loaded; retention and archive leave such tables alone. */
export const RESTORED_MARK = 'orchestry:restored';

export async function markRestored(db: Db, table: string): Promise<void> {
  await db.query(`COMMENT ON TABLE ${quoteIdent(table)} IS '${RESTORED_MARK}'`);
}

/** Tables an operator restored. */
export async function restoredTables(db: Db): Promise<Set<string>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind = 'r' AND obj_description(oid, 'pg_class') = $1`,
    [RESTORED_MARK],
  );
  return new Set(rows.map((r) => r.name));
}

/** Today's UTC day in database time, and the database's now(). */
export async function dbToday(db: Db): Promise<{ today: string; now: Date }> {
  const { rows } = await db.query<{ today: string; now: Date }>(
    `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today, now() AS now`,
  );
  return rows[0]!;
}
