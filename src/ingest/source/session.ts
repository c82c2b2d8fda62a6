// A fetched batch's hold on its partition, as the later stages see it: whether it is still ours
// to work on, heart-beating, and waiting (backing off) without losing the group membership.
import type { EachBatchPayload } from '../../kafka/client.ts';

export interface Session {
  /** False once the partition should be given up (stopping, group rebalancing, batch stale). */
  active(): boolean;
  /** Heart-beats the group; false when that failed (rebalancing: give the partition back). */
  heartbeat(): Promise<boolean>;
}

export function sessionOf(payload: EachBatchPayload, stopping: () => boolean): Session {
  return {
    active: () => !stopping() && payload.isRunning() && !payload.isStale(),
    async heartbeat() {
      try {
        await payload.heartbeat();
        return true;
      } catch {
        return false;
      }
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps `ms` while heart-beating; false when the partition should be given up (nothing was committed). */
export async function holdFor(session: Session, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!session.active()) return false;
    await sleep(Math.min(1000, until - Date.now()));
    if (!(await session.heartbeat())) return false;
  }
  return true;
}
