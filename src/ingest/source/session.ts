// A queued chunk's hold on its partition, as the later stages see it (lanes.ts makes it): whether
// it is still ours to work on, and waiting (backing off) without losing the group membership.
export interface Session {
  /** False once the partition should be given up (stopping, group rebalancing, lane dropped). */
  active(): boolean;
  /** Keeps the hold while waiting; false when it is lost (kafkajs heart-beats in its own fetch loop). */
  heartbeat(): Promise<boolean>;
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
