// Wire contract v1 (DESIGN.md) as zod schemas. Every field is checked against the seed's column
// types and check constraints here, before anything reaches PostgreSQL. Unknown fields are
// ignored (stripped). Changes to this file must be additive: producers depend on it.
import { z } from 'zod';
import { specShape } from './spec-sections.ts';

export const FLOAT4_MAX = 3.4028234663852886e38;
const MAX_LABELS = 64;
/** The widths (code points) and counts of a stats message's strings: the schema below and the fast path (decode/fast-stats.ts) check the same. */
export const STATS_LIMITS = { app: 253, containerId: 128, labelKey: 128, labelValue: 1024, labels: MAX_LABELS } as const;
const MAX_JSON_DEPTH = 32;

/** Counts Unicode code points, as PostgreSQL's varchar(n) does. */
const codePoints = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};
export const noNul = (s: string) => !s.includes('\u0000');
/** A lone UTF-16 surrogate (from a JSON "\ud800" escape) has no UTF-8 form: PostgreSQL would get U+FFFD. */
// String.prototype.isWellFormed (ES2024, in V8 since Node 20) scans once; TypeScript's lib here predates it.
export const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

const NUL_MESSAGE = 'contains a NUL character (U+0000), which PostgreSQL text cannot store';
const SURROGATE_MESSAGE = 'contains a lone UTF-16 surrogate, which has no UTF-8 form';

/** One rule of a field: when `fails`, its issue (as a refinement with that message and params reports it). */
type Rule<T> = { fails: (v: T) => boolean; message: string; params?: Record<string, boolean> };

/**
 * A field's rules as one zod check (one pass on the hot path instead of a chain of refinements):
 * each rule still reports its own issue, in the order of the rules, as separate refinements did.
 */
function withRules<T extends string | number, S extends z.ZodType<T>>(schema: S, rules: Rule<T>[]): S {
  return schema.superRefine((v, ctx) => {
    for (const r of rules) if (r.fails(v as T)) ctx.addIssue({ code: 'custom', message: r.message, ...(r.params ? { params: r.params } : {}), input: v });
  });
}
const stringChecks = (rules: Rule<string>[]) => withRules(z.string(), rules);

const noNulRule = { fails: (s: string) => !noNul(s), message: NUL_MESSAGE, params: { nul: true } };
const wellFormedRule = { fails: (s: string) => !wellFormed(s), message: SURROGATE_MESSAGE };
/** At most `max` code points: a string of at most `max` UTF-16 units has at most that many, uncounted. */
const atMostCodePoints = (max: number) => (s: string) => s.length > max && codePoints(s) > max;

/** A varchar(n) column: 1..n code points, no NUL (PostgreSQL text cannot hold U+0000). */
const varchar = (max: number) =>
  stringChecks([
    noNulRule,
    wellFormedRule,
    { fails: (s) => s.length === 0, message: 'must not be empty' },
    { fails: atMostCodePoints(max), message: `must be at most ${max} characters`, params: { range: true } },
  ]);

const text = stringChecks([noNulRule, wellFormedRule]);

export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** C's rint() in the default rounding mode: to the nearest integer, halves to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Microseconds of an RFC 3339 fraction ("123456789" for .123456789), rounded as PostgreSQL rounds
 * timestamp input (ParseFractionalSecond: rint(strtod(".ddd") * 1e6)); 1,000,000 carries a second.
 */
export function fractionMicros(digits: string): number {
  return digits === '' ? 0 : rint(Number(`0.${digits}`) * 1_000_000);
}

/** µs since the epoch -> { ms (floor), iso in UTC with exactly 6 fractional digits }: one value for both. */
function normalised(us: bigint): { ms: number; iso: string } {
  const ms = Number(us / 1000n);
  const seconds = new Date(ms - (ms % 1000)).toISOString().slice(0, 19);
  return { ms, iso: `${seconds}.${String(us % 1_000_000n).padStart(6, '0')}Z` };
}

/** Epoch ms (0..9999-12-31), whole milliseconds: the microseconds are 000 (as normalised(v * 1000) gives). */
export const MAX_EPOCH_MS = 253402300799999;
export function fromEpochMs(v: number): { ms: number; iso: string } {
  return { ms: v, iso: `${new Date(v).toISOString().slice(0, 23)}000Z` };
}

/** An RFC 3339 string (it matched RFC3339) -> its normalised instant, or the issue PostgreSQL would raise. */
export function fromRfc3339(v: string): { ms: number; iso: string } | { issue: string; range?: true } {
  const fraction = /\.(\d+)/.exec(v)?.[1] ?? '';
  const wholeMs = Date.parse(v.replace(/\.\d+/, ''));
  // V8 rolls impossible days over (30 February -> 2 March); PostgreSQL refuses them.
  const [y, mo, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (Number.isNaN(wholeMs) || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return { issue: 'is not a valid date' };
  const us = BigInt(wholeMs) * 1000n + BigInt(fractionMicros(fraction));
  if (us < 0n || us >= 253402300800000000n) return { issue: 'is outside 0000..9999', range: true };
  return normalised(us);
}

/**
 * A timestamp: an RFC 3339 string or epoch milliseconds, normalised once to microseconds as
 * PostgreSQL would store it; `ms` (day partitions, retention checks) and `iso` (the stored value) agree.
 */
export const timestamp = z
  .union([
    z.number().int().min(0).max(MAX_EPOCH_MS),
    z.string().regex(RFC3339, 'must be an RFC 3339 timestamp, e.g. 2026-01-01T00:00:00Z'),
  ])
  .transform((v, ctx) => {
    if (typeof v === 'number') return fromEpochMs(v);
    const t = fromRfc3339(v);
    if ('ms' in t) return t;
    ctx.addIssue({ code: 'custom', message: t.issue, ...(t.range ? { params: { range: true } } : {}) });
    return z.NEVER;
  });
export type Timestamp = z.output<typeof timestamp>;

/** A REAL column's rules, each reporting its own issue; `extra` are the field's own bounds. */
type NumberRule = Rule<number>;
/** A non-zero number that rounds to 0 as a REAL, e.g. 1e-50: PostgreSQL refuses it (22003). */
export const underflowsReal = (n: number) => n !== 0 && Math.fround(n) === 0;
const REAL_RULES: NumberRule[] = [
  { fails: (n) => !Number.isFinite(n), message: 'must be a finite number' },
  { fails: (n) => !(Math.abs(n) <= FLOAT4_MAX), message: 'is outside the range of REAL', params: { range: true } },
  { fails: underflowsReal, message: 'is too small in magnitude for REAL (it would round to 0)', params: { range: true } },
];
const real = (extra: NumberRule[] = []) => withRules(z.number(), [...REAL_RULES, ...extra]);
const NON_NEGATIVE: NumberRule = { fails: (n) => !(n >= 0), message: 'must be >= 0', params: { range: true } };
const nonNegative = real([NON_NEGATIVE]);
export const INT32_MAX = 2147483647;
const int32 = z.number().int().min(-INT32_MAX - 1).max(INT32_MAX);
const nonNegInt = z.number().int().min(0).max(INT32_MAX);

function depth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v !== null && typeof v === 'object') {
      if (d > max) max = d;
      if (max > MAX_JSON_DEPTH) return max;
      for (const child of Object.values(v)) stack.push([child, d + 1]);
    }
  }
  return max;
}
/** Whether any string or key inside `value` holds a NUL; iterative, so no message can make it overflow the stack. */
function hasNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000')) return true;
        stack.push(child);
      }
    }
  }
  return false;
}
/** The app.registered spec stored in a JSONB column: its cast sections typed, bounded depth, no NUL anywhere. */
const specObject = specShape
  .refine((o) => depth(o) <= MAX_JSON_DEPTH, { message: `is nested deeper than ${MAX_JSON_DEPTH} levels` })
  .refine((o) => !hasNul(o), { message: 'contains a NUL character (U+0000), which PostgreSQL jsonb cannot store', params: { nul: true } });

/** The metric fields of a stats sample: field name = metrics.metric_type, with its unit. */
export const METRIC_UNITS = {
  cpu_percent: '%',
  memory_percent: '%',
  memory_bytes: 'bytes',
  rps: 'req/s',
  latency_p50: 'ms',
  latency_p95: 'ms',
  latency_p99: 'ms',
  active_connections: 'connections',
  error_rate: '%',
  response_time: 'ms',
  queue_length: 'items',
  disk_usage: '%',
} as const;
export type MetricType = keyof typeof METRIC_UNITS;
export const METRIC_TYPES = Object.keys(METRIC_UNITS) as MetricType[];
/** A metric field's upper bound where it is below REAL's range (every metric field is also >= 0). */
export const METRIC_MAX = { memory_percent: 100, memory_bytes: Number.MAX_SAFE_INTEGER } as const;

const labels = z
  .record(
    varchar(STATS_LIMITS.labelKey),
    stringChecks([noNulRule, wellFormedRule, { fails: atMostCodePoints(STATS_LIMITS.labelValue), message: `label values are at most ${STATS_LIMITS.labelValue} characters`, params: { range: true } }]),
  )
  .refine((o) => Object.keys(o).length <= STATS_LIMITS.labels, { message: `at most ${STATS_LIMITS.labels} labels`, params: { range: true } });

const version = z.literal(1);

export const statsMessage = z.object({
  v: version,
  app: varchar(STATS_LIMITS.app),
  container_id: varchar(STATS_LIMITS.containerId),
  replica_index: nonNegInt.optional(),
  ts: timestamp,
  cpu_percent: nonNegative.optional(),
  // instances.memory_percent CHECK (memory_percent >= 0 AND memory_percent <= 100)
  memory_percent: real([NON_NEGATIVE, { fails: (n) => !(n <= METRIC_MAX.memory_percent), message: `must be <= ${METRIC_MAX.memory_percent}`, params: { range: true } }]).optional(),
  // instances.memory_usage_bytes is BIGINT
  memory_bytes: real([NON_NEGATIVE, { fails: (n) => !(n <= METRIC_MAX.memory_bytes), message: 'is too large', params: { range: true } }]).optional(),
  rps: nonNegative.optional(),
  latency_p50: nonNegative.optional(),
  latency_p95: nonNegative.optional(),
  latency_p99: nonNegative.optional(),
  active_connections: nonNegative.optional(),
  error_rate: nonNegative.optional(),
  response_time: nonNegative.optional(),
  queue_length: nonNegative.optional(),
  disk_usage: nonNegative.optional(),
  labels: labels.optional(),
});
export type StatsMessage = z.output<typeof statsMessage>;

const lifecycleBase = {
  v: version,
  app: varchar(253),
  ts: timestamp,
  source: varchar(50).optional(),
  node_id: varchar(100).optional(),
};
const containerRef = { container_id: varchar(128) };

export const APP_STATUSES = ['registered', 'starting', 'running', 'stopping', 'stopped', 'error', 'updating'] as const;
export const HEALTH_STATUSES = ['unknown', 'healthy', 'unhealthy', 'starting'] as const;

export const lifecycleMessage = z.discriminatedUnion('type', [
  z.object({ ...lifecycleBase, type: z.literal('app.registered'), spec: specObject, mode: z.enum(['auto', 'manual']).optional() }),
  z.object({ ...lifecycleBase, type: z.literal('app.status'), status: z.enum(APP_STATUSES) }),
  z.object({ ...lifecycleBase, type: z.literal('app.scaled'), from: nonNegInt, to: nonNegInt, reason: text.optional() }),
  z.object({
    ...lifecycleBase,
    ...containerRef,
    type: z.literal('container.started'),
    container_name: varchar(253),
    replica_index: nonNegInt,
    ip: z.union([z.ipv4(), z.ipv6()]),
    port: z.number().int().min(1, { message: 'must be 1..65535' }).max(65535, { message: 'must be 1..65535' }),
  }),
  z.object({
    ...lifecycleBase,
    ...containerRef,
    type: z.literal('container.health'),
    health_status: z.enum(HEALTH_STATUSES),
    failures: nonNegInt.optional(),
    message: text.optional(),
  }),
  z.object({ ...lifecycleBase, ...containerRef, type: z.literal('container.stopping') }),
  z.object({ ...lifecycleBase, ...containerRef, type: z.literal('container.stopped') }),
  z.object({ ...lifecycleBase, ...containerRef, type: z.literal('container.draining') }),
  z.object({ ...lifecycleBase, ...containerRef, type: z.literal('container.error'), error: text.optional() }),
]);
export type LifecycleMessage = z.output<typeof lifecycleMessage>;
export const LIFECYCLE_TYPES = lifecycleMessage.options.map((o) => o.shape.type.value);

export { int32 };

/** The contract as JSON Schema (draft 2020-12), generated from the zod schemas. */
export function contractJsonSchema(): { stats: unknown; lifecycle: unknown } {
  const opts = { io: 'input', unrepresentable: 'any' } as const;
  return {
    stats: { title: 'orchestry.container.stats v1', ...z.toJSONSchema(statsMessage, opts) },
    lifecycle: { title: 'orchestry.container.lifecycle v1', ...z.toJSONSchema(lifecycleMessage, opts) },
  };
}
