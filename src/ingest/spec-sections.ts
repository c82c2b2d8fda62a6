// The `scaling` and `healthCheck` sections of an app.registered spec, typed and range-checked as
// orchestry_apply_spec_sections (migration 000003) casts them into scaling_policies and
// health_checks: a bad section is the decoder's rejection, not a database error found by splitting.
import { z } from 'zod';

const INT4 = 2147483647;
const FLOAT4_MAX = 3.4028234663852886e38;

// Unambiguous patterns (no nested or adjacent quantifiers over the same characters: linear time),
// tried only on short strings: a number's text never needs more than 64 characters.
const INT_TEXT = /^\s*[+-]?\d{1,10}\s*$/;
const REAL_TEXT = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const numeric = (pattern: RegExp, message: string) => z.string().refine((s) => s.length <= 64 && pattern.test(s), { message });

/** What `(o->>key)::int` accepts: an integer, or a string of one (PostgreSQL trims blanks). */
const int4 = z.union([z.number().int().min(-INT4 - 1).max(INT4), numeric(INT_TEXT, 'must be an integer').refine((s) => !(Math.abs(Number(s)) > INT4), { message: 'is outside INTEGER', params: { range: true } })]);
/** What `(o->>key)::real` accepts, finite: a number in REAL's range, or a string of one. */
const real = z.union([z.number(), numeric(REAL_TEXT, 'must be a number')]).refine((v) => !(Math.abs(Number(v)) > FLOAT4_MAX) && (Number(v) === 0 || Math.fround(Number(v)) !== 0), { message: 'is outside the range of REAL', params: { range: true } });

const opt = <T extends z.ZodType>(t: T) => t.nullable().optional();
const num = (v: unknown, fallback: number) => (v === undefined || v === null ? fallback : Number(v));

/** camelCase and snake_case spellings of each field, with the default the database uses. */
const SCALING_INTS = {
  minReplicas: ['min_replicas', 1], maxReplicas: ['max_replicas', 5], targetRPSPerReplica: ['target_rps_per_replica', 50],
  maxP95LatencyMs: ['max_p95_latency_ms', 250], maxConnectionsPerReplica: ['max_connections_per_replica', 100],
  scaleOutThresholdPct: ['scale_out_threshold_pct', 80], scaleInThresholdPct: ['scale_in_threshold_pct', 30],
  cooldownSeconds: ['cooldown_seconds', 180], evaluationWindowSeconds: ['evaluation_window_seconds', 60],
  maxScaleOutStep: ['max_scale_out_step', 0], maxScaleInStep: ['max_scale_in_step', 1], stabilizationWindowSeconds: ['stabilization_window_seconds', 300],
} as const;
const SCALING_REALS = {
  maxCPUPercent: ['max_cpu_percent', 70], maxMemoryPercent: ['max_memory_percent', 75], cpuWeight: ['cpu_weight', 1],
  memoryWeight: ['memory_weight', 1], rpsWeight: ['rps_weight', 1], latencyWeight: ['latency_weight', 1.5], connectionWeight: ['connection_weight', 0.8],
} as const;
const HEALTH_INTS = {
  initialDelaySeconds: ['initial_delay_seconds', 30], periodSeconds: ['period_seconds', 30], timeoutSeconds: ['timeout_seconds', 5],
  failureThreshold: ['failure_threshold', 3], successThreshold: ['success_threshold', 1],
} as const;

function fields<T extends z.ZodType>(spellings: Record<string, readonly [string, number]>, type: T): Record<string, z.ZodOptional<z.ZodNullable<T>>> {
  return Object.fromEntries(Object.entries(spellings).flatMap(([camel, [snake]]) => [[camel, opt(type)], [snake, opt(type)]]));
}

/** The value the database reads: camelCase unless null or absent, then snake_case, then the default. */
function effective(o: Record<string, unknown>, spellings: Record<string, readonly [string, number]>): Record<string, number> {
  return Object.fromEntries(Object.entries(spellings).map(([camel, [snake, d]]) => [camel, num(o[camel] ?? o[snake], d)]));
}

const range = (ctx: z.RefinementCtx, path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, params: { range: true } });

export const scalingSection = z
  .looseObject({ ...fields(SCALING_INTS, int4), ...fields(SCALING_REALS, real) })
  .superRefine((o, ctx) => {
    const v = { ...effective(o, SCALING_INTS), ...effective(o, SCALING_REALS) } as Record<string, number>;
    if (v.minReplicas! < 0) range(ctx, 'minReplicas', 'must be >= 0');
    if (v.maxReplicas! < 1) range(ctx, 'maxReplicas', 'must be >= 1');
    if (v.minReplicas! > v.maxReplicas!) range(ctx, 'minReplicas', 'must be <= maxReplicas');
    for (const k of ['scaleOutThresholdPct', 'scaleInThresholdPct']) if (v[k]! < 1 || v[k]! > 100) range(ctx, k, 'must be 1..100');
    if (v.scaleInThresholdPct! >= v.scaleOutThresholdPct!) range(ctx, 'scaleInThresholdPct', 'must be below scaleOutThresholdPct');
    for (const k of ['cpuWeight', 'memoryWeight', 'rpsWeight', 'latencyWeight', 'connectionWeight']) if (v[k]! < 0) range(ctx, k, 'must be >= 0');
  });

const PG_BOOLEAN = /^\s*(t|tr|tru|true|f|fa|fal|fals|false|y|ye|yes|n|no|on|of|off|1|0)\s*$/i;
const statusCodes = z.array(int4.nullable());

export const healthCheckSection = z
  .looseObject({
    protocol: opt(z.string().refine((s) => ['HTTP', 'TCP'].includes(s.toUpperCase()), { message: 'must be HTTP or TCP', params: { range: true } })),
    path: opt(z.string().refine((s) => [...s].length <= 500, { message: 'must be at most 500 characters', params: { range: true } })),
    port: z.union([z.number().int(), numeric(/^\s*\d{1,5}\s*$/, 'must be an integer')]).refine((p) => Number(p) >= 1 && Number(p) <= 65535, { message: 'must be 1..65535', params: { range: true } }),
    method: opt(z.string().refine((s) => ['GET', 'POST', 'PUT', 'HEAD'].includes(s.toUpperCase()), { message: 'must be GET, POST, PUT or HEAD', params: { range: true } })),
    body: opt(z.string()),
    expectedStatusCodes: statusCodes.optional(),
    expected_status_codes: statusCodes.optional(),
    enabled: opt(z.union([z.boolean(), z.string().regex(PG_BOOLEAN, 'must be a boolean')])),
    ...fields(HEALTH_INTS, int4),
  })
  .superRefine((o, ctx) => {
    const v = effective(o, HEALTH_INTS);
    if (v.initialDelaySeconds! < 0) range(ctx, 'initialDelaySeconds', 'must be >= 0');
    for (const k of ['periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold']) if (v[k]! <= 0) range(ctx, k, 'must be > 0');
  });

// A section that is null (or absent) is ignored by the database; any other non-object is refused.
const sections = {
  scaling: opt(scalingSection),
  healthCheck: opt(healthCheckSection),
  health_check: opt(healthCheckSection),
};

/**
 * The app.registered spec: free-form JSON, except its scaling / health check sections (top level
 * or under spec.spec, either spelling) and spec.spec.replicas / spec.replicas, which the database casts.
 */
export const specShape = z.looseObject({
  ...sections,
  replicas: opt(z.union([int4, z.literal('')])),
  spec: opt(z.looseObject({ ...sections, replicas: opt(z.union([int4, z.literal('')])) })),
});
