// Small numeric helpers for the benchmark: medians, percentiles, rates, sleeping, peak memory.
import { readFileSync } from 'node:fs';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Peak resident set (VmHWM) of a Linux process, in MB; NaN when it cannot be read. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Follows a growing counter (rows or messages committed) until it reaches `total`. The rate is
 * measured from the first poll that saw progress to the poll that saw the total, counting only the
 * progress in between, so start-up (group join, JVM start) is excluded.
 */
export async function followProgress(read: () => Promise<number>, total: number, opts: { pollMs?: number; timeoutMs: number; onFirst?: () => void }): Promise<{ rate: number; seconds: number; done: number; complete: boolean }> {
  const pollMs = opts.pollMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  let first: { t: number; n: number } | undefined;
  let last = { t: performance.now(), n: 0 };
  let idle = last; // the last poll before any progress
  for (;;) {
    const n = await read();
    const t = performance.now();
    if (n > 0 && !first) {
      first = { t, n };
      opts.onFirst?.();
    }
    if (n === 0) idle = { t, n };
    last = { t, n };
    if (n >= total || Date.now() > deadline) break;
    await sleep(pollMs);
  }
  if (!first) return { rate: Number.NaN, seconds: 0, done: last.n, complete: last.n >= total };
  if (last.t <= first.t) {
    // Everything landed between two polls (a tiny workload): count from the last idle poll,
    // which overstates the time by at most one poll interval.
    const seconds = (last.t - idle.t) / 1000;
    return { rate: seconds > 0 ? last.n / seconds : Number.NaN, seconds, done: last.n, complete: last.n >= total };
  }
  const seconds = (last.t - first.t) / 1000;
  return { rate: (last.n - first.n) / seconds, seconds, done: last.n, complete: last.n >= total };
}
