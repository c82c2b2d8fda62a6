// Late rows and rollups: the distinct (app, metric_type, minute) windows a chunk writes, logged in
// the chunk's transaction when they lie below the rollup watermark (migration 000009), so the
// rollups job recomputes exactly those windows however late the rows came.
import { METRIC_TYPES, type StatsMessage } from '../contract.ts';

const MINUTE_MS = 60_000;
/** Bench only: measures ingestion without the log (the rollups are then NOT exact for late rows). */
const DISABLED = process.env.ORCHESTRY_BENCH_NO_INVALIDATION_LOG === '1';

/** Collects the windows of a chunk: one bit per metric type per (app, minute). */
export class TouchedWindows {
  private readonly bits = new Map<string, number>();

  add(m: StatsMessage): void {
    let mask = 0;
    for (let i = 0; i < METRIC_TYPES.length; i++) if (m[METRIC_TYPES[i]!] !== undefined) mask |= 1 << i;
    if (mask === 0) return;
    const minute = Math.floor(m.ts.ms / MINUTE_MS) * MINUTE_MS;
    this.mark(`${minute}\t${m.app}`, mask);
    // A ts with more than 6 fractional digits in its last millisecond may round into the next minute.
    if (m.ts.ms - minute === MINUTE_MS - 1) this.mark(`${minute + MINUTE_MS}\t${m.app}`, mask);
  }

  private mark(key: string, mask: number): void {
    this.bits.set(key, (this.bits.get(key) ?? 0) | mask);
  }

  get size(): number {
    return this.bits.size;
  }

  /**
   * The call that logs the windows below the watermark, for a statement of the chunk's transaction
   * (the offset's compare-and-set: `advanceOffset`'s `along`), its arrays as parameters from `$first`;
   * undefined when there is nothing to log. It takes the shared rollup lock first (migration 000009).
   */
  call(first: number): { sql: string; params: string[][] } | undefined {
    if (this.bits.size === 0 || DISABLED) return undefined;
    const apps: string[] = [];
    const types: string[] = [];
    const minutes: string[] = [];
    for (const [key, mask] of this.bits) {
      const tab = key.indexOf('\t');
      for (let i = 0; i < METRIC_TYPES.length; i++) {
        if ((mask & (1 << i)) === 0) continue;
        minutes.push(key.slice(0, tab));
        apps.push(key.slice(tab + 1));
        types.push(METRIC_TYPES[i]!);
      }
    }
    return { sql: `orchestry_log_rollup_invalidations($${first}::text[], $${first + 1}::text[], $${first + 2}::bigint[])`, params: [apps, types, minutes] };
  }
}
