// The stats decoder's fast path: a parsed stats message that is plainly valid becomes the same
// StatsMessage the contract's zod schema would give, at a fraction of zod's cost (zod was about
// 5 µs of a message's 12 in decode and encode, and its copies fed the garbage collector).
// It only ever says "valid, and here is the value": anything it is not sure of (a wrong type, an
// edge of a rule, a "__proto__" label) returns undefined, and the schema decides and words the
// rejection. test/ingest/decode/fast-stats.test.ts checks both agree on generated and hostile input.
import {
  FLOAT4_MAX, INT32_MAX, MAX_EPOCH_MS, METRIC_MAX, METRIC_TYPES, RFC3339, STATS_LIMITS, fromEpochMs, fromRfc3339, noNul, underflowsReal, wellFormed,
  type MetricType, type StatsMessage,
} from '../contract.ts';

/** A varchar(max) the schema accepts: 1..max UTF-16 units (so at most max code points), no NUL, well-formed. */
function plainString(s: unknown, max: number, min = 1): s is string {
  return typeof s === 'string' && s.length >= min && s.length <= max && noNul(s) && wellFormed(s);
}

/** A REAL field the schema accepts: a finite number in 0..max that does not underflow to 0 as a REAL. */
function plainReal(n: unknown, max: number): n is number {
  return typeof n === 'number' && n >= 0 && n <= max && !underflowsReal(n);
}

const MAX_OF = { ...Object.fromEntries(METRIC_TYPES.map((t) => [t, FLOAT4_MAX])), ...METRIC_MAX } as Record<MetricType, number>;

/** Labels the schema accepts, kept as they were parsed (own keys only; "__proto__" goes to the schema). */
function plainLabels(o: unknown): o is Record<string, string> {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || Object.hasOwn(o, '__proto__')) return false;
  let n = 0;
  for (const k of Object.keys(o)) {
    if (++n > STATS_LIMITS.labels) return false;
    if (!plainString(k, STATS_LIMITS.labelKey) || !plainString((o as Record<string, unknown>)[k], STATS_LIMITS.labelValue, 0)) return false;
  }
  return true;
}

function plainTimestamp(v: unknown): StatsMessage['ts'] | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= MAX_EPOCH_MS ? fromEpochMs(v) : undefined;
  if (typeof v !== 'string' || !RFC3339.test(v)) return undefined;
  const t = fromRfc3339(v);
  return 'ms' in t ? t : undefined;
}

/**
 * The last timestamp seen and its value, shared by the messages that repeat it (collectors that
 * align samples to their interval, as Telegraf does by default, send runs of the same ts): no Date,
 * strings or object made again. A message's ts is never modified after decoding.
 */
let lastTs: { v: unknown; ts: StatsMessage['ts'] | undefined } = { v: undefined, ts: undefined };

function timestampOf(v: unknown): StatsMessage['ts'] | undefined {
  if (Object.is(v, lastTs.v)) return lastTs.ts;
  const ts = plainTimestamp(v);
  if (ts !== undefined) lastTs = { v, ts };
  return ts;
}

/**
 * `json` (a parsed object whose `v` is 1) as the schema's output, when it is plainly valid;
 * undefined when the schema must decide.
 */
export function fastStats(json: Record<string, unknown>): StatsMessage | undefined {
  const { app, container_id: containerId, replica_index: replica, labels } = json;
  if (!plainString(app, STATS_LIMITS.app) || !plainString(containerId, STATS_LIMITS.containerId)) return undefined;
  if (replica !== undefined && !(Number.isInteger(replica) && (replica as number) >= 0 && (replica as number) <= INT32_MAX)) return undefined;
  const ts = timestampOf(json.ts);
  if (ts === undefined) return undefined;
  // The schema's output order: v, app, container_id, replica_index, ts, the metric fields, labels.
  const out: Record<string, unknown> = { v: 1, app, container_id: containerId };
  if (replica !== undefined) out.replica_index = replica;
  out.ts = ts;
  for (const t of METRIC_TYPES) {
    const value = json[t];
    if (value === undefined) continue;
    if (!plainReal(value, MAX_OF[t])) return undefined;
    out[t] = value;
  }
  if (labels !== undefined) {
    if (!plainLabels(labels)) return undefined;
    out.labels = labels;
  }
  return out as StatsMessage;
}
