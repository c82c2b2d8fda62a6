// The decode stage: value bytes -> a validated contract message, or a rejection with a stable
// error code; a run of consumed messages -> a typed Chunk.
import type { z } from 'zod';
import { errorMessage, type ErrorCode } from '../../errors.ts';
import type { KafkaMessage } from '../../kafka/client.ts';
import { placeholderFailure } from '../../kafka/placeholders.ts';
import { lifecycleMessage, statsMessage, type LifecycleMessage, type StatsMessage } from '../contract.ts';
import type { Chunk } from '../chunk/chunk.ts';
import type { Item, Rejection, TopicKind } from '../chunk/item.ts';
import { fastStats } from './fast-stats.ts';

export type { Rejection } from '../chunk/item.ts';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: Rejection };

export interface DecodeLimits {
  messageMaxBytes: number;
  /** Oldest accepted `ts` (epoch ms): older is out of retention. */
  minTsMs: number;
  /** Newest accepted `ts` (epoch ms): now + allowed clock skew. */
  maxTsMs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A short description of a JSON value; never walks it (a value may be nested thousands deep). */
function describe(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v).slice(0, 40);
  return Array.isArray(v) ? 'an array' : 'an object';
}

function parseJson(value: Buffer, limits: DecodeLimits): Decoded<Record<string, unknown>> {
  if (value.length > limits.messageMaxBytes) {
    return { ok: false, error: { code: 'E_TOO_LARGE', message: `value is ${value.length} bytes; the limit is ${limits.messageMaxBytes} (MESSAGE_MAX_BYTES)` } };
  }
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return { ok: false, error: { code: 'E_UTF8', message: 'value is not valid UTF-8' } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: { code: 'E_JSON', message: `value is not valid JSON: ${(err as Error).message.slice(0, 200)}` } };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, error: { code: 'E_SCHEMA', message: 'value must be a JSON object' } };
  }
  const v = (parsed as { v?: unknown }).v;
  if (v === undefined) return { ok: false, error: { code: 'E_SCHEMA', message: 'v: required (the contract version, 1)' } };
  if (v !== 1) return { ok: false, error: { code: 'E_VERSION', message: `v: contract version ${describe(v)} is not supported (this worker reads v1)` } };
  return { ok: true, value: parsed as Record<string, unknown> };
}

function rejectionOf(error: z.ZodError): Rejection {
  let code: ErrorCode = 'E_SCHEMA';
  const issues = error.issues.slice(0, 5).map((i) => {
    // A bad record key is reported as 'invalid_key' with the key's own issues nested inside.
    const nested = i.code === 'invalid_key' ? (i as { issues?: { params?: unknown }[] }).issues ?? [] : [];
    const params = [i, ...nested].map((x) => (x as { params?: { range?: boolean; nul?: boolean } }).params).find((p) => p?.nul || p?.range);
    if (params?.nul) code = 'E_NUL_BYTE';
    else if (code === 'E_SCHEMA' && (params?.range || i.code === 'too_big' || i.code === 'too_small')) code = 'E_OUT_OF_RANGE';
    return `${i.path.map(String).join('.').replaceAll('\u0000', '\\u0000') || '(value)'}: ${i.message}`;
  });
  return { code, message: issues.join('; ').slice(0, 1000) };
}

function checkTime(ms: number, limits: DecodeLimits): Rejection | undefined {
  if (ms < limits.minTsMs) return { code: 'E_OUT_OF_RANGE', message: `ts: ${new Date(ms).toISOString()} is older than the retention window (before ${new Date(limits.minTsMs).toISOString()})` };
  if (ms > limits.maxTsMs) return { code: 'E_OUT_OF_RANGE', message: `ts: ${new Date(ms).toISOString()} is further in the future than the allowed clock skew` };
  return undefined;
}

/**
 * `freeForm` names a free-form object (labels, spec): zod validates it but builds its output by
 * assignment, so a key named "__proto__" would set the prototype and be lost. The object is kept
 * as JSON.parse made it (own properties only), so every key arrives as it was sent.
 */
function decodeWith<S extends z.ZodType<{ ts: { ms: number } }>>(
  schema: S,
  value: Buffer,
  limits: DecodeLimits,
  freeForm: string,
  fast?: (json: Record<string, unknown>) => z.output<S> | undefined,
): Decoded<z.output<S>> {
  const json = parseJson(value, limits);
  if (!json.ok) return json;
  const quick = fast?.(json.value);
  if (quick !== undefined) {
    const late = checkTime(quick.ts.ms, limits);
    return late ? { ok: false, error: late } : { ok: true, value: quick };
  }
  const raw = json.value[freeForm];
  // zod skips a "__proto__" key altogether: validate its value under another name as well.
  const checked =
    raw !== null && typeof raw === 'object' && Object.hasOwn(raw, '__proto__')
      ? { ...json.value, [freeForm]: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k === '__proto__' ? '__proto___' : k, v])) }
      : json.value;
  const result = schema.safeParse(checked);
  if (!result.success) return { ok: false, error: rejectionOf(result.error) };
  const late = checkTime(result.data.ts.ms, limits);
  if (late) return { ok: false, error: late };
  const data = result.data as Record<string, unknown>;
  if (data[freeForm] !== undefined) data[freeForm] = raw;
  return { ok: true, value: result.data };
}

/** Runs a decoder so that nothing a message holds can throw out of it: a throw is an E_INTERNAL rejection. */
function guarded<T>(run: () => Decoded<T>): Decoded<T> {
  try {
    return run();
  } catch (err) {
    return { ok: false, error: { code: 'E_INTERNAL', message: `the decoder failed on this message: ${errorMessage(err).slice(0, 300)}` } };
  }
}

export function decodeStats(value: Buffer, limits: DecodeLimits): Decoded<StatsMessage> {
  return guarded(() => decodeWith(statsMessage, value, limits, 'labels', fastStats));
}

export function decodeLifecycle(value: Buffer, limits: DecodeLimits): Decoded<LifecycleMessage> {
  return guarded(() => decodeWith(lifecycleMessage, value, limits, 'spec'));
}

type Consumed = Pick<KafkaMessage, 'offset' | 'key' | 'value' | 'headers'>;

/**
 * A consumed message -> an Item: decoded, rejected with a code, a tombstone, or a placeholder of a
 * record batch the codec refused (its value is not available: the dead letter carries none).
 */
export function decode(kind: TopicKind, m: Consumed, limits: DecodeLimits): Item {
  const item: Item = { offset: BigInt(m.offset), key: m.key, value: m.value, headers: m.headers };
  const batchFailure = placeholderFailure(m.headers);
  if (batchFailure) return { ...item, headers: undefined, rejected: batchFailure };
  if (m.value === null) return { ...item, tombstone: true };
  const d = kind === 'stats' ? decodeStats(m.value, limits) : decodeLifecycle(m.value, limits);
  if (!d.ok) item.rejected = d.error;
  else if (kind === 'stats') item.stats = d.value as StatsMessage;
  else item.lifecycle = d.value as LifecycleMessage;
  return item;
}

/** Decodes `messages` (consecutive, in offset order, none below `from`) into the chunk [from, last + 1). */
export function decodeChunk(source: Pick<Chunk, 'kind' | 'topic' | 'partition'>, from: bigint, messages: Consumed[], limits: DecodeLimits): Chunk {
  const to = BigInt(messages[messages.length - 1]!.offset) + 1n;
  return { ...source, from, to, items: messages.map((m) => decode(source.kind, m, limits)) };
}
