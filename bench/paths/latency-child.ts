// One latency run (latency.ts) in a process of its own; prints its LatencyRun as JSON on the last
// line. Only the workload's apps and containers matter here, so one interval of samples is built.
import { buildWorkload } from '../load.ts';
import { measureLatency, type LatencyArgs } from './latency.ts';

const a = JSON.parse(process.argv[2]!) as LatencyArgs;
const r = await measureLatency(buildWorkload({ ...a.spec, intervals: 1 }, a.partitions), a.partitions, a.rowsPerSec, a.durationMs, a.env);
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
