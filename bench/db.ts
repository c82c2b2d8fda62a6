// Databases for the benchmark: a fresh migrated database per measured path (cloned from the test
// template), and cheap progress probes that never scan the metrics table.
import { execFileSync } from 'node:child_process';
import type { Pool } from '../src/db/pool.ts';
import { freshDatabase, type TestDatabase } from '../tools/fixtures/database.ts';

export type BenchDatabase = TestDatabase;

export async function benchDatabase(): Promise<BenchDatabase> {
  const db = await freshDatabase();
  await checkpoint(db);
  return db;
}

/**
 * Starts a measured path from the same server and host state: the previous path's dirty pages
 * written out by PostgreSQL (CHECKPOINT: 2M rows write about 1 GB of WAL, past max_wal_size), then
 * by the host (`sync`: the page cache's dirty pages, from the server, the broker and the dropped
 * databases' files, which the host would otherwise write back during the next path, 30 s after they
 * were dirtied). Round 1 still runs slow on some hosts: there the same work costs more CPU time in
 * every process (not I/O), which no reset here removes. CHECKPOINT needs superuser or
 * pg_checkpoint; without it, or without `sync`, the run goes on and is only noisier.
 */
export async function checkpoint(db: BenchDatabase): Promise<void> {
  await db.pool.query('CHECKPOINT').catch(() => undefined);
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 300_000 });
  } catch {
    // no sync(1) here: only noisier
  }
}

/** Messages of `topic` the worker has committed: sum of stored next offsets (offsets start at 0). */
export async function committedMessages(pool: Pool, topic: string): Promise<number> {
  const { rows } = await pool.query<{ n: number | null }>('SELECT sum(next_offset)::bigint AS n FROM ingest_offsets WHERE topic = $1', [topic]);
  return Number(rows[0]?.n ?? 0);
}

/** Stored next offset of each partition of `topic`. */
export async function storedOffsets(pool: Pool, topic: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ partition: number; next_offset: number }>('SELECT partition, next_offset FROM ingest_offsets WHERE topic = $1', [topic]);
  return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
}

export async function countRows(pool: Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

/** Highest id in `table`: its identity starts at 1, so on a table loaded by inserts only it counts the rows (no scan). */
export async function maxId(pool: Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ n: number | null }>(`SELECT max(id)::bigint AS n FROM ${table}`);
  return Number(rows[0]?.n ?? 0);
}
