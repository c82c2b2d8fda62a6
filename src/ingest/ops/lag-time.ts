// Time lag: the producer timestamp of the oldest unconsumed message of a partition, found through
// the broker's offset-by-timestamp lookup (ListOffsets), since kafkajs cannot read one message by offset.
import type { Admin } from '../../kafka/client.ts';

export type TimestampLookup = Pick<Admin, 'fetchTopicOffsetsByTimestamp'>;

/** Relative precision of the answer: the search stops once its bracket is this share of the age (or 1 s). */
const PRECISION = 0.02;

/**
 * The timestamp (ms) of the message at `offset` in `topic`/`partition`, to within max(1 s, 2 % of
 * its age), as the latest `t` whose lookup (first offset with a timestamp >= t) is still <= `offset`.
 * Exact when timestamps grow with offsets (CreateTime from one producer per key, or LogAppendTime);
 * with producers' clocks apart it is the time of some message near `offset`. A timestamp beyond
 * `nowMs` answers `nowMs`. About log2(age in s) + 6 lookups.
 */
export async function timestampAt(admin: TimestampLookup, topic: string, partition: number, offset: number, nowMs: number): Promise<number> {
  const reaches = async (t: number): Promise<boolean> => {
    const answer = await admin.fetchTopicOffsetsByTimestamp(topic, t);
    const p = answer.find((x) => x.partition === partition);
    return p !== undefined && Number(p.offset) <= offset;
  };
  if (await reaches(nowMs)) return nowMs;
  // Exponential search back from now for a time at or before the message, then bisection.
  let hi = nowMs;
  let step = 1000;
  let lo = nowMs - step;
  while (lo > 0 && !(await reaches(lo))) {
    hi = lo;
    step *= 2;
    lo = Math.max(0, nowMs - step);
  }
  while (hi - lo > Math.max(1000, (nowMs - lo) * PRECISION)) {
    const mid = Math.floor((lo + hi) / 2);
    if (await reaches(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
