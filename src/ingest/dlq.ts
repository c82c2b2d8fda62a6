// The dead-letter topic: original key and value bytes untouched, original headers kept, and
// context headers saying why (in the manner of Kafka Connect's __connect.errors.* headers).
import type { IHeaders, Producer } from '../kafka/client.ts';
import type { Rejection } from './decode.ts';

export const DLQ_HEADERS = {
  code: 'orchestry.error.code',
  message: 'orchestry.error.message',
  topic: 'orchestry.source.topic',
  partition: 'orchestry.source.partition',
  offset: 'orchestry.source.offset',
  time: 'orchestry.error.time',
  worker: 'orchestry.worker.id',
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

export async function sendToDlq(producer: Producer, dlqTopic: string, workerId: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const now = new Date().toISOString();
  await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: letters.map((l) => ({
      key: l.key,
      value: l.value,
      headers: {
        ...(l.headers ?? {}),
        [DLQ_HEADERS.code]: l.error.code,
        [DLQ_HEADERS.message]: l.error.message,
        [DLQ_HEADERS.topic]: l.topic,
        [DLQ_HEADERS.partition]: String(l.partition),
        [DLQ_HEADERS.offset]: l.offset,
        [DLQ_HEADERS.time]: now,
        [DLQ_HEADERS.worker]: workerId,
      },
    })),
  });
}

/** Reads a DLQ header as a string. */
export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}
