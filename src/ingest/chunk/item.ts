// One consumed message after decoding, and what becomes of it: stored, dead-lettered or skipped.
// Produced by the decode stage, written by the write stage, dead-lettered through dead-letters/.
import type { IHeaders } from '../../kafka/client.ts';
import type { ErrorCode } from '../../errors.ts';
import type { LifecycleMessage, StatsMessage } from '../contract.ts';

export type TopicKind = 'stats' | 'lifecycle';

/** Why a message is not stored: a stable dead-letter code and a message for the operator. */
export interface Rejection {
  code: ErrorCode;
  message: string;
}

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
