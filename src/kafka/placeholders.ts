// A compressed record batch that cannot be inflated must not throw inside kafkajs's fetch decoding
// (that stalls every partition of the response). The codec returns placeholder records instead,
// one per record the batch declares, each marked so the consumer dead-letters it.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// kafkajs 2.2.4 internals, pinned by test/kafka/placeholders.test.ts.
interface KafkaEncoder {
  buffer: Buffer;
}
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: {
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}) => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { readVarIntBytes(): Buffer; offset: number };
const RecordDecoder = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (d: unknown, ctx: object) => unknown;

/**
 * Record batch v2 header, from FirstOffset to the record count, as it precedes the compressed
 * records in the fetch response (kafkajs's decodeRecords reads the count, then passes the rest).
 */
const HEADER_BYTES = 61;
const LENGTH_AFTER_LENGTH_FIELD = 49;

export interface BatchContext {
  firstOffset: bigint;
  count: number;
  lastOffsetDelta: number;
  codecType: number;
}

/**
 * The batch header of `compressed`, read from the bytes just before it in the fetch response's
 * buffer (kafkajs hands the codec a view, not a copy). Undefined when those bytes are not a v2
 * batch header that matches this buffer: then there is nothing safe to make placeholders from.
 */
export function batchContextOf(compressed: Buffer, codecType: number): BatchContext | undefined {
  if (compressed.byteOffset < HEADER_BYTES) return undefined;
  const h = Buffer.from(compressed.buffer, compressed.byteOffset - HEADER_BYTES, HEADER_BYTES);
  const length = h.readInt32BE(8);
  const magic = h.readInt8(16);
  const attributes = h.readInt16BE(21);
  const lastOffsetDelta = h.readInt32BE(23);
  const count = h.readInt32BE(57);
  const consistent = magic === 2 && length === LENGTH_AFTER_LENGTH_FIELD + compressed.length && (attributes & 7) === codecType;
  if (!consistent || count <= 0 || count > lastOffsetDelta + 1) return undefined;
  return { firstOffset: h.readBigInt64BE(0), count, lastOffsetDelta, codecType };
}

/** Marks placeholder records; random per process, so a producer cannot forge one. */
export const PLACEHOLDER_HEADER = 'orchestry.placeholder';
const token = randomBytes(16).toString('hex');

export interface BatchFailure {
  code: 'E_TOO_LARGE' | 'E_DECOMPRESS';
  message: string;
}

/** The inflated records of `count` placeholders: empty value, the failure in a marked header. */
export function placeholderRecords(ctx: BatchContext, failure: BatchFailure): Buffer {
  const failureJson = JSON.stringify(failure);
  const parts: Buffer[] = [];
  for (let i = 0; i < ctx.count; i++) {
    // Offset deltas 0..count-1, as producers write them (a compacted topic could differ).
    parts.push(encodeRecord({ offsetDelta: i, key: null, value: Buffer.alloc(0), headers: { [PLACEHOLDER_HEADER]: `${token}${failureJson}` } }).buffer);
  }
  return Buffer.concat(parts);
}

/** The failure a placeholder record carries, or undefined for a real record. */
export function placeholderFailure(headers: Record<string, unknown> | undefined): BatchFailure | undefined {
  const raw = headers?.[PLACEHOLDER_HEADER];
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : undefined;
  if (text === undefined || !text.startsWith(token)) return undefined;
  return JSON.parse(text.slice(token.length)) as BatchFailure;
}

/** Whether `inflated` holds `count` records kafkajs can decode (else its decoding would throw). */
export function recordsDecode(inflated: Buffer, count: number): boolean {
  try {
    const d = new Decoder(inflated);
    const ctx = { firstOffset: '0', firstTimestamp: '0', magicByte: 2 };
    for (let i = 0; i < count; i++) RecordDecoder(new Decoder(d.readVarIntBytes()), ctx);
    return true;
  } catch {
    return false;
  }
}
