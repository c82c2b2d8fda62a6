// The one connection guard. pg-pool removes its 'error' listener from a client while it is checked
// out: a server that goes away between two statements (no query active) would emit an unhandled
// 'error' and kill the process. A guarded client listens itself, remembers that it was lost, and
// goes back to the pool destroyed when it is broken. Transactions (tx.ts) and the scheduler's lock
// connection (scheduler/runner.ts) check clients out through it.
import type { Pool, PoolClient } from './pool.ts';

export interface GuardedClient {
  readonly client: PoolClient;
  /** True once the connection emitted 'error' or a caller marked it broken. */
  broken(): boolean;
  /** The connection is not to be trusted again (a failed ROLLBACK, a lost lock session). */
  markBroken(): void;
  /** Stops listening and returns the client to the pool, destroyed when broken. */
  release(): void;
}

/** Checks a client out of `pool` with its 'error' event guarded. */
export async function checkoutGuarded(pool: Pool): Promise<GuardedClient> {
  const client = await pool.connect();
  let lost = false;
  const onError = () => {
    lost = true;
  };
  client.on('error', onError);
  return {
    client,
    broken: () => lost,
    markBroken() {
      lost = true;
    },
    release() {
      client.removeListener('error', onError);
      client.release(lost);
    },
  };
}
