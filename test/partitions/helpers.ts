// Shared by the partitions tests: a fresh database for the test file, a second pool on it, and a
// session holding a lock.
import { after, before } from 'node:test';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

/** Makes a fresh database before the file's tests (handed to `set`) and drops it after them. */
export function useFreshDatabase(set: (db: TestDatabase) => void): void {
  let db: TestDatabase | undefined;
  before(async () => set((db = await freshDatabase())));
  after(async () => {
    await db?.drop();
  });
}

/** Another pool on the same database: another worker, as far as PostgreSQL can tell. */
export const otherPool = (url: string): Pool => createPool({ url, poolMax: 4, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });

/** A session of its own holding `lock` on `table` (in an open transaction) until release(). */
export async function holdLock(url: string, table: string, lock: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('BEGIN');
  await c.query(`LOCK TABLE ${table} IN ${lock} MODE`);
  return {
    async release() {
      await c.query('COMMIT');
      await c.end();
    },
  };
}
