// Readiness for /readyz and /metrics: the checks, each bounded in time, run by one caller at a time
// and cached briefly, so any number of probes costs at most one round of queries a second.
import { migrationStatus } from '../db/migrate.ts';
import type { Pool } from '../db/pool.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { maskUrl } from '../mask.ts';
import type { Metrics } from '../metrics.ts';
import type { HealthSource } from './types.ts';

export type ReadinessCheck = 'consumer' | 'database' | 'migrations';

export interface Readiness {
  ready: boolean;
  /** The checks that failed, in a stable order. */
  failed: ReadinessCheck[];
  checks: Record<ReadinessCheck, { ok: boolean; error?: string }>;
}

/**
 * `checkDatabase` and `migrationsCurrent` of a HealthSource, answered by a pool. The worker gives
 * it its own one-connection probe pool (`createProbePool`), never the ingest pool.
 */
export function poolHealthChecks(pool: Pool): Pick<HealthSource, 'checkDatabase' | 'migrationsCurrent'> {
  return {
    async checkDatabase() {
      await pool.query('SELECT 1');
    },
    async migrationsCurrent() {
      return (await migrationStatus(pool)).current;
    },
  };
}

function withTimeout<T>(work: () => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const run = Promise.resolve().then(work);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the readiness checks in parallel, each bounded by `timeoutMs`, and records them on the metrics. */
export async function checkReadiness(health: HealthSource, metrics: Metrics, timeoutMs: number): Promise<Readiness> {
  // Each check answers with what is wrong, or undefined; a rejection or a timeout is its own answer.
  const outcome = async (problem: () => Promise<string | undefined>): Promise<{ ok: boolean; error?: string }> => {
    try {
      const error = await withTimeout(problem, timeoutMs);
      return error === undefined ? { ok: true } : { ok: false, error };
    } catch (err) {
      return { ok: false, error: maskUrl(errorMessage(err)) };
    }
  };
  const [consumer, database, migrations] = await Promise.all([
    outcome(async () => health.consumerProblem()),
    outcome(async () => void (await health.checkDatabase())),
    outcome(async () => ((await health.migrationsCurrent()) ? undefined : 'migrations are pending')),
  ]);
  const checks = { consumer, database, migrations };
  const failed = (Object.keys(checks) as ReadinessCheck[]).filter((k) => !checks[k].ok);
  for (const k of Object.keys(checks) as ReadinessCheck[]) metrics.readinessCheck.set({ check: k }, checks[k].ok ? 1 : 0);
  metrics.ready.set(failed.length === 0 ? 1 : 0);
  return { ready: failed.length === 0, failed, checks };
}

export interface ReadinessSource {
  /** The latest readiness: a round of checks at most `cacheMs` old; concurrent callers share one round. */
  get(): Promise<Readiness>;
}

/**
 * Single-flight, cached readiness: callers arriving while a round runs wait for it; a finished round
 * answers for `cacheMs`. A round that fails logs its details (the public body names the checks only).
 */
export function cachedReadiness(health: HealthSource, metrics: Metrics, log: Logger, opts: { timeoutMs: number; cacheMs: number }): ReadinessSource {
  let inFlight: Promise<Readiness> | undefined;
  let last: { at: number; value: Readiness } | undefined;
  return {
    get() {
      if (inFlight) return inFlight;
      if (last && performance.now() - last.at < opts.cacheMs) return Promise.resolve(last.value);
      inFlight = checkReadiness(health, metrics, opts.timeoutMs)
        .then((value) => {
          last = { at: performance.now(), value };
          if (!value.ready) log.warn({ failed: value.failed, checks: value.checks }, 'not ready');
          return value;
        })
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
  };
}
