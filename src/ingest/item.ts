// One consumed message after decoding, and what becomes of it: stored, dead-lettered or skipped.
// Produced by decode.ts, written by writer.ts, dead-lettered through dlq.ts.
import type { IHeaders } from '../kafka/client.ts';
import type { LifecycleMessage, StatsMessage } from './contract.ts';
import type { Rejection } from './decode.ts';

export type TopicKind = 'stats' | 'lifecycle';

export interface Item {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  stats?: StatsMessage;
  lifecycle?: LifecycleMessage;
  /** Set when the message is not stored: it goes (or went) to the DLQ. */
  rejected?: Rejection;
  tombstone?: boolean;
}
