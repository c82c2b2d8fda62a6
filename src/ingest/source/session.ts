// A queued chunk's hold on its partition, as the later stages see it (lanes.ts makes it): whether
// it is still ours to work on, and waiting (backing off) until it is not. kafkajs heart-beats the
// group in its own fetch loop, which runs on while lanes write.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Session {
  /** False once the partition should be given up (stopping, group rebalancing, lane dropped). */
  active(): boolean;
}

/** Sleeps `ms`, checking every second; false when the partition should be given up (nothing was committed). */
export async function holdFor(session: Session, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!session.active()) return false;
    await sleep(Math.min(1000, until - Date.now()));
  }
  return session.active();
}
