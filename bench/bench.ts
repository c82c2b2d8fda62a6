// The benchmark: produces the workload once, measures every path in rounds (fresh database each),
// then the sustained load (a prefilled day), the batch-size sweep and the latencies; returns the
// report: medians, spreads, and the issue's targets with YES/NO (bench/targets.ts).
import { cpus, loadavg, totalmem } from 'node:os';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repo } from '../tools/repo.ts';
import { type Workload, type WorkloadSpec, buildWorkload, benchKafka, createTopics, lifecycleMessages, produceAll, statsMessages, ROWS_PER_SAMPLE } from './load.ts';
import { decodedSamples, lanesOf, type Batch } from './paths/rows.ts';
import { copyLimit, insertPerMessage, multiRowInsert } from './paths/database.ts';
import { consumeOnly } from './paths/consume.ts';
import { runWorkerOnce, type BenchTopics } from './paths/worker.ts';
import { latencyRun, type LatencyRun } from './paths/latency.ts';
import { prefilledDatabase, resetForRun } from './paths/sustained.ts';
import { benchDatabase, countRows } from './db.ts';
import { evaluateTargets } from './targets.ts';
import { batchPhases, cpuSampler, cpuSpan, freePort, stackPids, statementsReset, statementsTop, type CpuShares } from './where.ts';
import { DEBEZIUM_VERSION, KAFKA_VERSION, ensureConnectLibs, peerRecords, producePeerTopic, runPeerOnce } from './paths/connect.ts';
import type { Figure, Report } from './report.ts';
import { sweepSvg } from './svg.ts';
import { median } from './stats.ts';
import { profileSummary } from './profile.ts';
import { windowReadFigure } from './window-read.ts';

export interface BenchParams {
  mode: 'quick' | 'full' | 'smoke';
  spec: WorkloadSpec;
  partitions: number;
  reps: number;
  batch: number;
  lanes: number;
  sweep: number[];
  singleCapMs: number;
  multiCapMs: number;
  peerRows: number;
  /** Each latency run (half load with the scheduler on and off, 80 % load; `reps` of each); full runs span a rollups tick. */
  latencyMs: number;
  /** Rows already in the day partition for the sustained-load rounds (20M in full runs). */
  prefillRows: number;
  /** One end-to-end run before the rounds, not counted (the first round ran 10 % low on a quiet machine: caches, template, JIT). */
  warmup: boolean;
}

export const FULL: BenchParams = {
  mode: 'full', spec: { apps: 50, containersPerApp: 20, intervals: 500, intervalMs: 5000 }, partitions: 6, reps: 3, batch: 2500, lanes: 2, // batch: the worker's default BATCH_MAX_MESSAGES
  sweep: [500, 1000, 2500, 5000, 10000, 20000], singleCapMs: 15000, multiCapMs: 30000, peerRows: 300_000, latencyMs: 65_000, prefillRows: 20_000_000, warmup: true,
};
export const QUICK: BenchParams = {
  ...FULL, mode: 'quick', spec: { apps: 20, containersPerApp: 50, intervals: 60, intervalMs: 5000 }, reps: 1,
  sweep: [1000, 5000, 20000], singleCapMs: 3000, multiCapMs: 5000, peerRows: 16_000, latencyMs: 6000, prefillRows: 2_000_000, warmup: false,
};
export const SMOKE: BenchParams = {
  ...FULL, mode: 'smoke', spec: { apps: 2, containersPerApp: 5, intervals: 20, intervalMs: 5000 }, partitions: 2, reps: 1, batch: 50,
  sweep: [50], singleCapMs: 1000, multiCapMs: 1000, peerRows: 400, latencyMs: 2000, prefillRows: 20_000, warmup: false,
};

export interface BenchOptions {
  peer: boolean;
  profile: boolean;
  write: boolean;
  log: (s: string) => void;
  /** Also measure the 24-hour window read from rollups (bench/window-read.ts; about 2 minutes). */
  windowRead?: boolean;
}

/** What the rounds share: the workload, its topics, its rows per lane, the peer's topic. */
interface Context {
  P: BenchParams;
  o: BenchOptions;
  w: Workload;
  samples: number;
  topics: BenchTopics;
  lanes: Batch[][];
  peerTopic?: string;
  peerRows: number;
  peerWhy?: string;
  peerErrors: string[];
  workerEnv: Record<string, string>;
}

type Runs = Record<'worker' | 'rss' | 'copy' | 'copyBinary' | 'multi' | 'single' | 'consume' | 'peer' | 'peerRss' | 'sustained' | CpuRun, number[]>;
/** µs of CPU per row, per round: the worker run's processes, the machine's busy share, and PostgreSQL under the binary COPY limit. */
type CpuRun = 'cpuWorker' | 'cpuPg' | 'cpuKafka' | 'cpuMachine' | 'cpuPgLimit';
const fmtUs = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(2));

async function prepare(P: BenchParams, o: BenchOptions): Promise<Context> {
  const w = buildWorkload(P.spec, P.partitions);
  o.log(`workload: ${w.samples.length} stats messages (${w.rows} metric rows), ${w.lifecycle.length} lifecycle messages`);
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `bench-${id}.stats`, lifecycle: `bench-${id}.lifecycle`, dlq: `bench-${id}.dlq` };
  await createTopics([topics.stats, topics.lifecycle, topics.dlq], P.partitions);
  const kafka = benchKafka();
  await produceAll(kafka, topics.lifecycle, lifecycleMessages(w), 2000, 1);
  await produceAll(kafka, topics.stats, statsMessages(w));
  const decoded = decodedSamples(w);
  const peerWhy = !o.peer ? 'skipped with --no-peer' : ensureConnectLibs(o.log);
  const peerSamples = decoded.slice(0, Math.ceil(P.peerRows / ROWS_PER_SAMPLE));
  const peerTopic = peerWhy ? undefined : await producePeerTopic(peerRecords(peerSamples), P.partitions);
  return {
    P, o, w, samples: w.samples.length, topics, lanes: lanesOf(decoded, P.lanes, P.batch), peerRows: peerSamples.length * ROWS_PER_SAMPLE,
    ...(peerTopic ? { peerTopic } : {}), ...(peerWhy ? { peerWhy } : {}), peerErrors: [], workerEnv: { BATCH_MAX_MESSAGES: String(P.batch) },
  };
}

/** One round of every path, each on a fresh database (the order is the same every round). */
async function round(c: Context, runs: Runs): Promise<void> {
  const { log } = c.o;
  const cpu = cpuSpan();
  const wr = await runWorkerOnce(c.topics, c.samples, { env: c.workerEnv, onFirstCommit: (pid) => cpu.start({ worker: pid, ...stackPids() }), onEnd: async () => cpu.stop() });
  if (wr.rowsLanded !== c.w.rows) throw new Error(`worker landed ${wr.rowsLanded} of ${c.w.rows} rows`);
  runs.worker.push(wr.rowsPerSec);
  runs.rss.push(wr.peakRssMb);
  const us = cpu.perRowUs(wr.rowsPerSec * wr.seconds);
  runs.cpuWorker.push(us.worker ?? Number.NaN);
  runs.cpuPg.push(us.postgres ?? Number.NaN);
  runs.cpuKafka.push(us.kafka ?? Number.NaN);
  runs.cpuMachine.push(us['machine busy'] ?? Number.NaN);
  log(`  ${Math.round(wr.rowsPerSec)} rows/s, peak RSS ${wr.peakRssMb.toFixed(0)} MB, CPU µs/row: worker ${fmtUs(us.worker)}, PostgreSQL ${fmtUs(us.postgres)}, broker ${fmtUs(us.kafka)}; COPY limit (text)`);
  runs.copy.push((await copyLimit(c.w, c.lanes)).rowsPerSec);
  log(`  ${Math.round(runs.copy.at(-1)!)} rows/s; COPY limit (binary)`);
  const limitCpu = cpuSpan();
  const bin = await copyLimit(c.w, c.lanes, undefined, 'binary', { start: () => limitCpu.start({ ...stackPids() }), stop: () => limitCpu.stop() });
  runs.copyBinary.push(bin.rowsPerSec);
  runs.cpuPgLimit.push(limitCpu.perRowUs(bin.rows).postgres ?? Number.NaN);
  log(`  ${Math.round(runs.copyBinary.at(-1)!)} rows/s; multi-row INSERT`);
  runs.multi.push((await multiRowInsert(c.w, c.lanes, c.P.multiCapMs)).rowsPerSec);
  log(`  ${Math.round(runs.multi.at(-1)!)} rows/s; one INSERT per message`);
  runs.single.push((await insertPerMessage(c.w, c.lanes, c.P.singleCapMs)).rowsPerSec);
  log(`  ${Math.round(runs.single.at(-1)!)} rows/s; consume-only`);
  runs.consume.push((await consumeOnly(c.topics.stats, c.samples)).rowsPerSec);
  log(`  ${Math.round(runs.consume.at(-1)!)} rows/s`);
  if (!c.peerTopic) return;
  log('  peer: Kafka Connect + Debezium JDBC sink');
  try {
    const pr = await runPeerOnce(c.peerTopic, c.peerRows, c.P.lanes, c.P.batch);
    runs.peer.push(pr.rowsPerSec);
    runs.peerRss.push(pr.peakRssMb);
    log(`  ${Math.round(pr.rowsPerSec)} rows/s, JVM peak RSS ${pr.peakRssMb.toFixed(0)} MB`);
  } catch (err) {
    c.peerErrors.push((err as Error).message);
    log(`  peer failed: ${(err as Error).message}`);
  }
}

/** The worker's rounds into a day partition already holding P.prefillRows rows (one prefilled database, reused). */
async function sustainedRounds(c: Context, runs: Runs): Promise<{ rows: number; seconds: number }> {
  c.o.log(`sustained load: prefilling a day partition with ${c.P.prefillRows} rows (INSERT ... SELECT generate_series, on the server)`);
  const pre = await prefilledDatabase(c.w, c.P.prefillRows);
  try {
    c.o.log(`  ${pre.rows} rows in ${pre.seconds.toFixed(0)} s (day ${pre.day})`);
    for (let r = 0; r < c.P.reps; r++) {
      await resetForRun(pre.db, c.topics.stats);
      const before = await countRows(pre.db.pool, 'metrics');
      const wr = await runWorkerOnce(c.topics, c.samples, { env: c.workerEnv, db: pre.db, rowsBefore: before });
      if (wr.rowsLanded !== c.w.rows) throw new Error(`worker landed ${wr.rowsLanded} of ${c.w.rows} rows into the prefilled day`);
      runs.sustained.push(wr.rowsPerSec);
      c.o.log(`  round ${r + 1}: ${Math.round(wr.rowsPerSec)} rows/s into a day of ${before} rows`);
    }
    return { rows: pre.rows, seconds: pre.seconds };
  } finally {
    await pre.db.drop();
  }
}

async function batchSweep(c: Context, runs: Runs): Promise<Report['sweep']> {
  c.o.log('batch-size sweep');
  const sweep: Report['sweep'] = [];
  for (const size of c.P.sweep) {
    const sr = size === c.P.batch ? { rowsPerSec: median(runs.worker), peakRssMb: median(runs.rss) } : await runWorkerOnce(c.topics, c.samples, { env: { BATCH_MAX_MESSAGES: String(size) } });
    sweep.push({ batchMaxMessages: size, rowsPerSec: sr.rowsPerSec, peakRssMb: sr.peakRssMb });
    c.o.log(`  ${size}: ${Math.round(sr.rowsPerSec)} rows/s`);
  }
  return sweep;
}

/** A latency setting's rounds: p50 and p99 are the medians of the rounds', max the highest. */
interface LatencyRounds extends LatencyRun {
  p50Runs: number[];
  p99Runs: number[];
}

function combineRounds(rs: LatencyRun[]): LatencyRounds {
  const p50Runs = rs.map((r) => r.p50Ms);
  const p99Runs = rs.map((r) => r.p99Ms);
  return {
    ...rs[0]!,
    achievedPerSec: median(rs.map((r) => r.achievedPerSec)),
    messages: rs.reduce((a, r) => a + r.messages, 0),
    p50Ms: median(p50Runs),
    p99Ms: median(p99Runs),
    maxMs: Math.max(...rs.map((r) => r.maxMs)),
    warmupMaxMs: Math.max(...rs.map((r) => r.warmupMaxMs)),
    peakRssMb: Math.max(...rs.map((r) => r.peakRssMb)),
    p50Runs,
    p99Runs,
  };
}

/**
 * p50/p99 at half load with the scheduler as deployed (on) and off, and at 80 % load (scheduler on),
 * each the median of `reps` runs taken in turn (one run's p99 moved 2x between runs of the same
 * code on this machine: it is decided by a few seconds of the host's and the job's weather).
 */
async function latencies(c: Context, workerRate: number): Promise<Record<'half' | 'halfOff' | 'eighty', LatencyRounds>> {
  const run = async (share: number, scheduler: boolean, rep: number) => {
    c.o.log(`latency ${rep + 1}/${c.P.reps} at ${share * 100} % load (${Math.round(workerRate * share)} rows/s for ${c.P.latencyMs / 1000} s, scheduler ${scheduler ? 'on' : 'off'})`);
    const r = await latencyRun(c.w, c.P.partitions, workerRate * share, c.P.latencyMs, { SCHEDULER_ENABLED: String(scheduler) });
    c.o.log(`  p50 ${Math.round(r.p50Ms)} ms, p99 ${Math.round(r.p99Ms)} ms, max ${Math.round(r.maxMs)} ms (warm-up: first ${r.warmupMs / 1000} s, max ${Math.round(r.warmupMaxMs)} ms)`);
    return r;
  };
  const half: LatencyRun[] = [];
  const halfOff: LatencyRun[] = [];
  const eighty: LatencyRun[] = [];
  for (let rep = 0; rep < c.P.reps; rep++) {
    half.push(await run(0.5, true, rep));
    halfOff.push(await run(0.5, false, rep));
    eighty.push(await run(0.8, true, rep));
  }
  return { half: combineRounds(half), halfOff: combineRounds(halfOff), eighty: combineRounds(eighty) };
}

export async function runBench(P: BenchParams, o: BenchOptions): Promise<Report> {
  const c = await prepare(P, o);
  const runs: Runs = {
    worker: [], rss: [], copy: [], copyBinary: [], multi: [], single: [], consume: [], peer: [], peerRss: [], sustained: [],
    cpuWorker: [], cpuPg: [], cpuKafka: [], cpuMachine: [], cpuPgLimit: [],
  };
  if (P.warmup) {
    o.log('warm-up: one end-to-end run, not counted');
    await runWorkerOnce(c.topics, c.samples, { env: c.workerEnv });
  }
  for (let r = 0; r < P.reps; r++) {
    o.log(`round ${r + 1}/${P.reps}: worker end-to-end`);
    await round(c, runs);
  }
  const prefill = await sustainedRounds(c, runs);
  const sweep = await batchSweep(c, runs);
  const lat = await latencies(c, median(runs.worker));
  const windowRead = o.windowRead ? await windowReadFigure(o.log) : undefined;
  const where = o.profile ? await whereTimeGoes(c) : undefined;
  const report = buildReport(c, runs, sweep, lat, prefill, windowRead);
  if (where) report.notes.push(...where);
  if (o.write) writeResults(report, o.log);
  return report;
}

/** One more end-to-end run under --cpu-prof, with CPU shares, batch phases and PostgreSQL's statements. */
async function whereTimeGoes(c: Context): Promise<string[]> {
  const dir = join(repo, 'bench', 'results', 'profile');
  c.o.log(`profiling one end-to-end run (--cpu-prof into ${dir}; CPU shares, batch phases, pg_stat_statements)`);
  rmSync(dir, { recursive: true, force: true });
  const db = await benchDatabase();
  const port = await freePort();
  const statements = await statementsReset(db.pool);
  let sampler: ReturnType<typeof cpuSampler> | undefined;
  let shares: CpuShares | undefined;
  let phases: Awaited<ReturnType<typeof batchPhases>> = [];
  try {
    const wr = await runWorkerOnce(c.topics, c.samples, {
      env: { ...c.workerEnv, HTTP_PORT: String(port) }, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`], db, rowsBefore: 0,
      onStart: (pid) => (sampler = cpuSampler({ worker: pid, ...stackPids() })),
      onEnd: async () => {
        shares = sampler?.stop();
        phases = await batchPhases(port).catch(() => []);
      },
    });
    const notes = [`Profiled run: ${Math.round(wr.rowsPerSec)} rows/s over ${wr.seconds.toFixed(1)} s.`];
    if (shares) notes.push(`CPU share of the machine (${cpus().length} cores = 100 %; load average ${shares.loadAverage.map((l) => l.toFixed(2)).join(' ')}): ${Object.entries(shares.shares).map(([k, v]) => `${k} ${(v * 100).toFixed(1)} %`).join(', ')}`);
    const stats = phases.filter((p) => p.topic === c.topics.stats && p.batches > 0);
    if (stats.length) notes.push(`Worker batch phases (stats topic, seconds summed over ${stats[0]!.batches} batches): ${stats.map((p) => `${p.phase} ${p.seconds.toFixed(2)} s (${((p.seconds / p.batches) * 1000).toFixed(1)} ms/batch)`).join(', ')}`);
    notes.push(statements ? `PostgreSQL statements (pg_stat_statements, this run):\n\n${await statementsTop(db.pool, 12)}` : 'pg_stat_statements is not preloaded on this server: statement timings come from the batch phases only.');
    notes.push(`CPU profile (self time, top functions):\n\n${profileSummary(dir, 20)}`);
    return notes;
  } finally {
    await db.drop();
  }
}

/** Per round: the rate the worker could reach with the whole machine busy, at its measured CPU per row. */
function ceilings(runs: Runs): number[] {
  return runs.cpuWorker.map((w, i) => (cpus().length * 1e6) / (w + runs.cpuPg[i]! + (runs.cpuKafka[i] ?? 0)));
}

/** Where the CPU goes: µs per row of each process (the worker run, and PostgreSQL alone at the binary COPY limit), and the ceiling it implies. */
function cpuFigures(runs: Runs): Figure[] {
  if (runs.cpuPg.every((x) => Number.isNaN(x))) return []; // not the local stack: PostgreSQL and the broker cannot be sampled
  const us = (name: string, k: CpuRun, note: string): Figure => ({ name, value: median(runs[k]), unit: 'µs/row', runs: runs[k], note });
  const ceiling = ceilings(runs);
  return [
    us('CPU per row: worker process', 'cpuWorker', 'all its threads (decode, validation, encoding, GC, sockets), first to last commit'),
    us('CPU per row: PostgreSQL, worker run', 'cpuPg', 'every backend of the server, same span'),
    us('CPU per row: Kafka broker, worker run', 'cpuKafka', 'the broker JVM, same span'),
    us('CPU per row: PostgreSQL, binary COPY limit', 'cpuPgLimit', 'the same rows by binary COPY from memory'),
    us('CPU per row: whole machine, worker run', 'cpuMachine', 'every process, the benchmark itself included'),
    { name: 'CPU ceiling for the worker', value: median(ceiling), unit: 'rows/s', runs: ceiling, note: `${cpus().length} cores ÷ (worker + PostgreSQL + broker) µs/row: the rate with every core busy` },
  ];
}

function buildReport(c: Context, runs: Runs, sweep: Report['sweep'], lat: Record<'half' | 'halfOff' | 'eighty', LatencyRounds>, prefill: { rows: number; seconds: number }, windowRead?: Figure): Report {
  const { P, w } = c;
  const fig = (name: string, k: keyof Runs, unit: string, note?: string): Figure => ({ name, value: median(runs[k]), unit, runs: runs[k], ...(note ? { note } : {}) });
  const latFig = (name: string, r: LatencyRounds, what: string): Figure[] => [
    { name: `${name} p50`, value: r.p50Ms, unit: 'ms', runs: r.p50Runs, note: `${what}: ${Math.round(r.achievedPerSec)} rows/s, ${r.messages} messages in ${r.p50Runs.length} runs` },
    { name: `${name} p99`, value: r.p99Ms, unit: 'ms', runs: r.p99Runs, note: `max ${Math.round(r.maxMs)} ms; the first ${r.warmupMs / 1000} s are warm-up, left out (their max ${Math.round(r.warmupMaxMs)} ms)` },
  ];
  const peerRan = runs.peer.length > 0;
  return {
    mode: P.mode,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: loadavg().map((l) => Number(l.toFixed(2))) },
    workload: { ...P.spec, statsMessages: c.samples, metricRows: w.rows, lifecycleMessages: w.lifecycle.length, kafkaPartitions: P.partitions, BATCH_MAX_MESSAGES: P.batch, connections: P.lanes },
    figures: [
      fig('worker end-to-end', 'worker', 'rows/s', 'Kafka -> worker (child process) -> PostgreSQL, first to last commit'),
      ...latFig('ingest latency', lat.half, 'half of max, scheduler on (as deployed)'),
      ...latFig('ingest latency, scheduler off,', lat.halfOff, 'half of max, SCHEDULER_ENABLED=false'),
      ...latFig('ingest latency at 80 %', lat.eighty, '80 % of max, scheduler on'),
      fig('worker peak RSS', 'rss', 'MB', 'VmHWM of the worker process at full speed'),
      fig('COPY limit', 'copy', 'rows/s', 'same rows, precomputed COPY text, same batches, 2 connections'),
      fig('binary COPY limit', 'copyBinary', 'rows/s', 'same rows and batches in COPY binary format (typed timestamptz/float4, jsonb v1), 2 connections'),
      fig('multi-row INSERT', 'multi', 'rows/s', `same batches, <=8000 rows a statement, capped at ${P.multiCapMs / 1000} s`),
      fig('one INSERT per message', 'single', 'rows/s', `8-row INSERT autocommitted per message, capped at ${P.singleCapMs / 1000} s`),
      fig('consume-only', 'consume', 'rows/s', 'kafkajs + decode, no database'),
      ...cpuFigures(runs),
      fig('worker into a prefilled day', 'sustained', 'rows/s', `day partition already holding ${prefill.rows} rows (prefilled in ${prefill.seconds.toFixed(0)} s); +${w.rows} each round`),
      ...(windowRead ? [windowRead] : []),
      ...(peerRan ? [fig('peer: Kafka Connect + Debezium JDBC', 'peer', 'rows/s', `${c.peerRows} rows, tasks.max=${P.lanes}, batch.size=${P.batch}`), fig('peer JVM peak RSS', 'peerRss', 'MB')] : []),
    ],
    sweep,
    ratios: evaluateTargets({
      worker: runs.worker, copy: runs.copy, copyBinary: runs.copyBinary, multi: runs.multi, single: runs.single, consume: runs.consume, peer: runs.peer, rss: runs.rss,
      p99HalfMs: lat.half.p99Ms, p99HalfNoSchedulerMs: lat.halfOff.p99Ms, p99EightyMs: lat.eighty.p99Ms, sustained: runs.sustained, prefillRows: prefill.rows,
      cpuCeiling: ceilings(runs),
    }),
    peer: { ran: peerRan, versions: { 'connect-runtime': KAFKA_VERSION, 'debezium-connector-jdbc': DEBEZIUM_VERSION, java: '17' }, ...(c.peerWhy || !peerRan ? { reason: c.peerWhy ?? c.peerErrors.join('; ').slice(0, 500) } : {}) },
    notes: [],
  };
}

function writeResults(report: Report, log: (s: string) => void): void {
  const out = join(repo, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const copy = report.figures.find((f) => f.name === 'COPY limit')!.value;
  const binary = report.figures.find((f) => f.name === 'binary COPY limit')?.value;
  const peer = report.figures.find((f) => f.name.startsWith('peer: '))?.value;
  writeFileSync(join(out, `${report.mode}-${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, `${report.mode}-latest.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, `sweep-${report.mode}.svg`), sweepSvg(report.sweep.map((s) => ({ x: s.batchMaxMessages, y: s.rowsPerSec })), {
    title: `End-to-end throughput vs BATCH_MAX_MESSAGES (${report.mode})`, xLabel: 'BATCH_MAX_MESSAGES (log scale)', yLabel: 'metric rows/s',
    refY: [{ y: copy, label: 'COPY limit' }, ...(binary ? [{ y: binary, label: 'binary COPY limit' }] : []), ...(peer ? [{ y: peer, label: 'Kafka Connect peer' }] : [])],
  }));
  log(`results in bench/results/${report.mode}-${stamp}.json and bench/results/sweep-${report.mode}.svg`);
}
