// The targets (issue 12), judged from the figures of one run: each a ratio or a figure
// with YES/NO, plus the spread of each path across rounds. Pure: tested without timing.
import { median } from './stats.ts';

export interface Target {
  name: string;
  value: number;
  /** The bar, as printed ("≥ 0.75"); informational rows have none. */
  target: string;
  /** undefined for informational rows (printed as "—"). */
  met?: boolean;
}

/** Spread of a path across rounds: max/min − 1 (0 for one round, NaN when there is nothing or a non-positive round). */
export function spread(runs: number[]): number {
  if (runs.length === 0) return Number.NaN;
  const min = Math.min(...runs);
  const max = Math.max(...runs);
  return min > 0 ? max / min - 1 : Number.NaN;
}

/** The bars; one place, so the report and its test read the same numbers. */
export const BARS = {
  workerOverCopy: 0.75,
  workerOverMulti: 1.3,
  p99HalfMs: 300,
  rssMb: 256,
  sustained: 0.8,
  workerSpread: 0.1,
} as const;

/** Rounds of each path (rows/s, MB) and the single-run latency figures, as measured in one run. */
export interface TargetInputs {
  worker: number[];
  copy: number[];
  /** The binary COPY limit, when measured: the worker is judged against the higher limit. */
  copyBinary?: number[];
  multi: number[];
  single?: number[];
  consume?: number[];
  peer?: number[];
  rss: number[];
  /** p99 at half the measured maximum rate: as deployed (scheduler on) and with the scheduler off. */
  p99HalfMs: number;
  p99HalfNoSchedulerMs: number;
  p99EightyMs: number;
  /** Worker rounds into a day partition already holding the prefill (rows/s). */
  sustained?: number[];
  prefillRows?: number;
  /** Per round: cores ÷ CPU per row of the worker run (worker + PostgreSQL + broker), in rows/s. */
  cpuCeiling?: number[];
}

const atLeast = (name: string, value: number, bar: number): Target => ({ name, value, target: `≥ ${bar}`, met: value >= bar });
const atMost = (name: string, value: number, bar: number, unit = ''): Target => ({ name, value, target: `≤ ${bar}${unit}`, met: value <= bar });
const info = (name: string, value: number, target = '(where time goes)'): Target => ({ name, value, target });

/** Every target of the issue, YES/NO, then the informational ratios. */
export function evaluateTargets(x: TargetInputs): Target[] {
  const worker = median(x.worker);
  const copy = median(x.copy);
  const copyBinary = x.copyBinary && x.copyBinary.length > 0 ? median(x.copyBinary) : Number.NaN;
  const limit = Number.isNaN(copyBinary) ? copy : Math.max(copy, copyBinary);
  const limitName = Number.isNaN(copyBinary) ? 'COPY limit' : `higher COPY limit (${copyBinary > copy ? 'binary' : 'text'})`;
  const out: Target[] = [
    atLeast(`worker / ${limitName}`, worker / limit, BARS.workerOverCopy),
    atLeast('worker / multi-row INSERT', worker / median(x.multi), BARS.workerOverMulti),
    atMost('p99 latency at half load, scheduler on (ms)', x.p99HalfMs, BARS.p99HalfMs),
    info('p99 latency at half load, scheduler off (ms)', x.p99HalfNoSchedulerMs, '(scheduler effect)'),
    info('p99 latency at 80% load (ms)', x.p99EightyMs, '(reported)'),
    atMost('worker peak RSS (MB)', median(x.rss), BARS.rssMb),
  ];
  if (x.sustained && x.sustained.length > 0) {
    out.push(atLeast(`sustained: into ${Math.round((x.prefillRows ?? 0) / 1e6)}M-row day / into empty`, median(x.sustained) / worker, BARS.sustained));
  }
  out.push(atMost('worker spread across rounds', spread(x.worker), BARS.workerSpread));
  if (!Number.isNaN(copyBinary)) out.push(info('worker / text COPY limit', worker / copy), info('binary / text COPY limit', copyBinary / copy, '(encoder choice)'));
  const ceiling = x.cpuCeiling && x.cpuCeiling.some((c) => !Number.isNaN(c)) ? median(x.cpuCeiling) : Number.NaN;
  if (!Number.isNaN(ceiling)) out.push(info('worker / its CPU ceiling', worker / ceiling, '(idle CPU left)'), info('CPU ceiling / higher COPY limit', ceiling / limit, '(best reachable ratio)'));
  if (x.single && x.single.length > 0) out.push(info('worker / one INSERT per message', worker / median(x.single)));
  if (x.consume && x.consume.length > 0) out.push(info('worker / consume-only', worker / median(x.consume)));
  if (x.peer && x.peer.length > 0) out.push(info('worker / peer', worker / median(x.peer)));
  return out;
}
