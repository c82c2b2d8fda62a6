// The dead-letter topic: original key and value bytes untouched, original headers kept, and
// context headers saying why (in the manner of Kafka Connect's __connect.errors.* headers). A value
// larger than the DLQ topic accepts is truncated, with headers saying so and giving the original size.
import type { IHeaders, Message, Producer } from '../../kafka/client.ts';
import type { Rejection } from '../chunk/item.ts';

export const DLQ_HEADERS = {
  code: 'orchestry.error.code',
  message: 'orchestry.error.message',
  topic: 'orchestry.source.topic',
  partition: 'orchestry.source.partition',
  offset: 'orchestry.source.offset',
  time: 'orchestry.error.time',
  worker: 'orchestry.worker.id',
  truncated: 'orchestry.value.truncated',
  originalBytes: 'orchestry.value.original.bytes',
} as const;

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  error: Rejection;
}

/** Where to send dead letters, and the largest value (bytes) the DLQ topic accepts (DLQ_VALUE_MAX_BYTES). */
export interface DlqTarget {
  topic: string;
  workerId: string;
  maxValueBytes: number;
}

function dlqRecord(l: DeadLetter, target: DlqTarget, now: string): Message {
  const cut = l.value !== null && l.value.length > target.maxValueBytes;
  return {
    key: l.key,
    value: cut ? l.value!.subarray(0, target.maxValueBytes) : l.value,
    headers: {
      ...(l.headers ?? {}),
      [DLQ_HEADERS.code]: l.error.code,
      [DLQ_HEADERS.message]: l.error.message,
      [DLQ_HEADERS.topic]: l.topic,
      [DLQ_HEADERS.partition]: String(l.partition),
      [DLQ_HEADERS.offset]: l.offset,
      [DLQ_HEADERS.time]: now,
      [DLQ_HEADERS.worker]: target.workerId,
      ...(cut ? { [DLQ_HEADERS.truncated]: 'true', [DLQ_HEADERS.originalBytes]: String(l.value!.length) } : {}),
    },
  };
}

/** Sends dead letters, acknowledged by all replicas; one request per maxValueBytes so no batch exceeds what the topic takes. */
export async function sendToDlq(producer: Producer, target: DlqTarget, letters: DeadLetter[]): Promise<void> {
  const now = new Date().toISOString();
  let group: Message[] = [];
  let bytes = 0;
  const flush = async () => {
    if (group.length > 0) await producer.send({ topic: target.topic, acks: -1, messages: group });
    group = [];
    bytes = 0;
  };
  for (const l of letters) {
    const m = dlqRecord(l, target, now);
    const size = (m.value as Buffer | null)?.length ?? 0;
    if (bytes + size > target.maxValueBytes) await flush();
    group.push(m);
    bytes += size;
  }
  await flush();
}

/** Reads a DLQ header as a string. */
export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}
