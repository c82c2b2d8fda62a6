// The one transaction helper: every batch and every job runs through it.
import type { Pool, PoolClient } from './pool.ts';

/**
 * pg-pool removes its 'error' listener from a client while it is checked out: a server that goes
 * away between two statements (no query active) would emit an unhandled 'error' and kill the
 * process. This listener marks the client broken instead; the next query fails normally.
 */
function guard(client: PoolClient): { broken: () => boolean; release: (broken: boolean) => void } {
  let lost = false;
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  return {
    broken: () => lost,
    release(broken) {
      client.removeListener('error', onError);
      client.release(broken || lost);
    },
  };
}

export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const g = guard(client);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      if (!g.broken()) await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection is gone: do not return it to the pool
    }
    throw err;
  } finally {
    g.release(broken);
  }
}

/** Runs `fn` on a dedicated client outside any transaction (DDL that must not hold locks long). */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const g = guard(client);
  let broken = false;
  try {
    return await fn(client);
  } catch (err) {
    broken = (err as { code?: string }).code === undefined;
    throw err;
  } finally {
    g.release(broken);
  }
}
