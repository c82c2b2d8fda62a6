// Ingest latency at a fixed rate: the producer stamps each stats message with ts = Date.now() at
// send and notes its partition and offset; a poller reads the worker's stored offsets
// (ingest_offsets, advanced in the same transaction as the rows) every 20 ms. A message's row is
// committed by the first poll whose stored offset of its partition is past it; latency = that
// poll's completion time - ts. No triggers; the error is at most one poll period, and always high.
// The first seconds of a run are its warm-up (the consumer's first fetches from a standing start,
// the JIT on the stats path): they are left out of the percentiles and reported as their own max.
// The producer and the poller run in a process of their own (latency-child.ts): the benchmark's
// process holds the whole workload and its precomputed COPY batches, and one mark-compact of that
// heap pauses it for 0.7-1.7 s, which would stall sends and polls and count as latency.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Kafka, Message } from '../../src/kafka/client.ts';
import { benchDatabase, committedMessages, storedOffsets } from '../db.ts';
import { benchKafka, createTopics, lifecycleMessages, produceAll, rng, sampleJson, type Workload } from '../load.ts';
import { percentile, sleep } from '../stats.ts';
import { spawnBenchWorker } from './worker.ts';
import { repo } from '../../tools/repo.ts';

export interface LatencyRun {
  ratePerSec: number;
  achievedPerSec: number;
  messages: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Length of the warm-up left out of p50/p99/max, and the highest latency in it. */
  warmupMs: number;
  warmupMaxMs: number;
  peakRssMb: number;
}

/** The warm-up: the first 5 s of a run, or its first quarter when shorter (quick and smoke runs). */
export const warmupOf = (durationMs: number) => Math.min(5000, Math.floor(durationMs / 4));

/** Arguments of one latency run, as passed to latency-child.ts. */
export interface LatencyArgs {
  spec: Workload['spec'];
  partitions: number;
  rowsPerSec: number;
  durationMs: number;
  /** To the worker (e.g. SCHEDULER_ENABLED=true: the scheduler's jobs as deployed). */
  env: Record<string, string>;
}

/** One latency run over `w`'s apps and containers, measured from a process of its own. */
export async function latencyRun(w: Workload, partitions: number, rowsPerSec: number, durationMs: number, env: Record<string, string> = {}): Promise<LatencyRun> {
  const args: LatencyArgs = { spec: w.spec, partitions, rowsPerSec, durationMs, env };
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'bench', 'paths', 'latency-child.ts'), JSON.stringify(args)], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`latency run failed (exit ${code}): ${out.slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop()!) as LatencyRun;
}

/** One latency run in this process: a worker, a producer at `rowsPerSec` and the offsets poller. */
export async function measureLatency(w: Workload, partitions: number, rowsPerSec: number, durationMs: number, env: Record<string, string>): Promise<LatencyRun> {
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `bench-${id}.lat.stats`, lifecycle: `bench-${id}.lat.lifecycle`, dlq: `bench-${id}.lat.dlq` };
  await createTopics([topics.stats, topics.lifecycle, topics.dlq], partitions);
  const kafka = benchKafka('orchestry-bench-latency');
  const life = lifecycleMessages({ ...w, lifecycle: w.lifecycle.filter((l) => l.json.type === 'app.registered' || l.json.type === 'container.started') });
  await produceAll(kafka, topics.lifecycle, life, 2000, 1);
  const db = await benchDatabase();
  const worker = spawnBenchWorker(db.url, topics, env);
  const timeline = new Map<number, { t: number; next: number }[]>();
  let polling = true;
  try {
    for (let i = 0; (await committedMessages(db.pool, topics.lifecycle)) < life.length; i++) {
      if (i > 1200) throw new Error(`worker did not take the lifecycle messages\n${worker.output()}`);
      await sleep(100);
    }
    const poll = async () => {
      const offsets = await storedOffsets(db.pool, topics.stats);
      const t = Date.now();
      for (const [p, next] of offsets) {
        let tl = timeline.get(p);
        if (!tl) timeline.set(p, (tl = []));
        if (tl.length === 0 || tl[tl.length - 1]!.next !== next) tl.push({ t, next });
      }
    };
    const poller = (async () => {
      while (polling) {
        await poll();
        await sleep(20);
      }
      await poll(); // the commits the last sleep hid
    })();

    const { sent, achievedPerSec } = await produceAtRate(kafka, topics.stats, w, rowsPerSec / 8, durationMs);
    const deadline = Date.now() + 60_000;
    while ((await committedMessages(db.pool, topics.stats)) < sent.length && Date.now() < deadline) await sleep(50);
    polling = false;
    await poller;
    const lat: number[] = [];
    const warm: number[] = [];
    const warmupMs = warmupOf(durationMs);
    const startTs = sent[0]?.ts ?? 0;
    const cursor = new Map<number, number>(); // offsets rise per partition: each timeline is walked once
    for (const s of sent) {
      const tl = timeline.get(s.p) ?? [];
      let i = cursor.get(s.p) ?? 0;
      while (i < tl.length && tl[i]!.next <= s.offset) i++;
      cursor.set(s.p, i);
      if (i === tl.length) throw new Error(`message ${s.p}/${s.offset} was not committed within 60 s`);
      (s.ts - startTs < warmupMs ? warm : lat).push(tl[i]!.t - s.ts);
    }
    const rss = await worker.stop();
    return { ratePerSec: rowsPerSec, achievedPerSec: achievedPerSec * 8, messages: sent.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat.reduce((a, b) => Math.max(a, b), 0), warmupMs, warmupMaxMs: warm.reduce((a, b) => Math.max(a, b), 0), peakRssMb: rss };
  } finally {
    polling = false;
    await worker.stop();
    await db.drop();
  }
}

/** Sends stats samples at `ratePerSec` messages a second for `durationMs`, each stamped ts = send time; returns where each landed. */
async function produceAtRate(kafka: Kafka, topic: string, w: Workload, ratePerSec: number, durationMs: number): Promise<{ sent: { p: number; offset: number; ts: number }[]; achievedPerSec: number }> {
  const containers = [...new Map(w.samples.map((s) => [s.container, s])).values()];
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent: { p: number; offset: number; ts: number }[] = [];
  const r = rng(7);
  const t0 = Date.now();
  let k = 0;
  try {
    while (Date.now() - t0 < durationMs) {
      const due = Math.floor(((Date.now() - t0) / 1000) * ratePerSec) - sent.length;
      if (due > 0) {
        const ts = Date.now();
        const msgs: (Message & { partition: number })[] = [];
        for (let i = 0; i < due; i++) {
          const c = containers[k++ % containers.length]!;
          msgs.push({ key: c.container, partition: c.partition, value: JSON.stringify(sampleJson(c.app, c.container, c.replica, ts, r)) });
        }
        const meta = await producer.send({ topic, acks: -1, messages: msgs });
        const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
        const idx = new Map<number, number>();
        for (const m of msgs) {
          const n = idx.get(m.partition) ?? 0;
          idx.set(m.partition, n + 1);
          sent.push({ p: m.partition, offset: base.get(m.partition)! + n, ts });
        }
      }
      await sleep(10);
    }
    return { sent, achievedPerSec: (sent.length / (Date.now() - t0)) * 1000 };
  } finally {
    await producer.disconnect();
  }
}
