// `node --import tsx bench/sweep.ts grid|wait|env [rounds] [intervals]`: settings sweeps on runs long
// enough to rank (rounds interleaved, so a load change on the machine hits every setting alike).
//   grid  PARTITIONS_CONCURRENCY x BATCH_MAX_MESSAGES, end-to-end rows/s (median and spread);
//   wait  p50/p99 at half load for BATCH_MAX_WAIT_MS values (half of the default's measured rate);
//   env   the default against each SWEEP_ENV_<n>='K=V,K=V' setting (e.g. ORCHESTRY_BENCH_NO_INVALIDATION_LOG=1).
// Needs KAFKA_BROKERS / DATABASE_URL (or brings up the local stack).
import { randomBytes } from 'node:crypto';
import { buildWorkload, benchKafka, createTopics, lifecycleMessages, produceAll, statsMessages, type Workload } from './load.ts';
import { runWorkerOnce, type BenchTopics } from './paths/worker.ts';
import { latencyRun } from './paths/latency.ts';
import { median } from './stats.ts';
import { spread } from './targets.ts';
import { withStack } from './stack.ts';

const [mode = 'grid', roundsArg = '2', intervalsArg = '125'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const log = (s: string) => process.stderr.write(`[sweep] ${s}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function produced(intervals: number): Promise<{ w: Workload; topics: BenchTopics }> {
  const w = buildWorkload({ apps: 50, containersPerApp: 20, intervals, intervalMs: 5000 }, 6);
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `sweep-${id}.stats`, lifecycle: `sweep-${id}.lifecycle`, dlq: `sweep-${id}.dlq` };
  await createTopics([topics.stats, topics.lifecycle, topics.dlq], 6);
  await produceAll(benchKafka(), topics.lifecycle, lifecycleMessages(w), 2000, 1);
  await produceAll(benchKafka(), topics.stats, statsMessages(w));
  return { w, topics };
}

/** Runs each setting once per round, in the same order every round; prints median, spread and rounds. */
async function throughput(settings: { name: string; env: Record<string, string> }[], w: Workload, topics: BenchTopics): Promise<void> {
  const runs = new Map<string, number[]>(settings.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const s of settings) {
      const wr = await runWorkerOnce(topics, w.samples.length, { env: s.env });
      if (wr.rowsLanded !== w.rows) throw new Error(`${s.name}: landed ${wr.rowsLanded} of ${w.rows}`);
      runs.get(s.name)!.push(wr.rowsPerSec);
      log(`round ${r + 1} ${s.name}: ${fmt(wr.rowsPerSec)} rows/s, RSS ${wr.peakRssMb.toFixed(0)} MB`);
    }
  }
  process.stdout.write(`| setting | median rows/s | spread | rounds |\n|---|---:|---:|---|\n`);
  for (const [name, xs] of runs) process.stdout.write(`| ${name} | ${fmt(median(xs))} | ${(spread(xs) * 100).toFixed(1)} % | ${xs.map(fmt).join(' / ')} |\n`);
}

await withStack(log, async () => {
  const { w, topics } = await produced(Number(intervalsArg));
  log(`${w.rows} metric rows in ${topics.stats}`);
  if (mode === 'grid') {
    const settings = [1, 2, 4].flatMap((c) => [1000, 5000].map((b) => ({ name: `PARTITIONS_CONCURRENCY=${c} BATCH_MAX_MESSAGES=${b}`, env: { PARTITIONS_CONCURRENCY: String(c), BATCH_MAX_MESSAGES: String(b) } })));
    await throughput(settings, w, topics);
  } else if (mode === 'env') {
    const extra = Object.entries(process.env).filter(([k]) => k.startsWith('SWEEP_ENV_')).map(([, v]) => ({ name: v!, env: Object.fromEntries(v!.split(',').map((kv) => kv.split('=') as [string, string])) }));
    await throughput([{ name: 'default', env: {} }, ...extra], w, topics);
  } else {
    const rate = median((await Promise.all([0].map(() => runWorkerOnce(topics, w.samples.length)))).map((r) => r.rowsPerSec));
    process.stdout.write(`half load: ${fmt(rate / 2)} rows/s\n| BATCH_MAX_WAIT_MS | p50 ms | p99 ms | max ms |\n|---:|---:|---:|---:|\n`);
    for (let r = 0; r < rounds; r++) {
      for (const wait of ['200', '50', '10']) {
        const lr = await latencyRun(w, 6, rate / 2, 30_000, { BATCH_MAX_WAIT_MS: wait });
        process.stdout.write(`| ${wait} | ${fmt(lr.p50Ms)} | ${fmt(lr.p99Ms)} | ${fmt(lr.maxMs)} |\n`);
      }
    }
  }
});
