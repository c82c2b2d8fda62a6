// The one transaction helper: every batch and every job runs through it. Clients are checked out
// through the connection guard (guard.ts).
import { connectionSuspect } from './errors.ts';
import { checkoutGuarded } from './guard.ts';
import type { Pool, PoolClient } from './pool.ts';

/**
 * Runs `fn` in one transaction. `settings` are server settings for this transaction only
 * (set_config(name, value, true), i.e. SET LOCAL): they end with it. They go with the BEGIN in one
 * simple-protocol round trip, so their names and values are quoted as literals (escapeLiteral).
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, settings: Record<string, string> = {}): Promise<T> {
  const g = await checkoutGuarded(pool);
  const { client } = g;
  try {
    const set = Object.entries(settings).map(([name, value]) => `set_config(${client.escapeLiteral(name)}, ${client.escapeLiteral(value)}, true)`);
    await client.query(set.length === 0 ? 'BEGIN' : `BEGIN; SELECT ${set.join(', ')}`);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      if (!g.broken()) await client.query('ROLLBACK');
    } catch {
      g.markBroken(); // the connection is gone: do not return it to the pool
    }
    throw err;
  } finally {
    g.release();
  }
}

/** Runs `fn` on a dedicated client outside any transaction (DDL that must not hold locks long). */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const g = await checkoutGuarded(pool);
  try {
    return await fn(g.client);
  } catch (err) {
    if (connectionSuspect(err)) g.markBroken();
    throw err;
  } finally {
    g.release();
  }
}
