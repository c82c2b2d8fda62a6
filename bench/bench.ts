// The benchmark: produces the workload once, measures every path in rounds (fresh database each),
// then the batch-size sweep and the latency at half load; returns the report (medians, ratios last).
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repo } from '../tools/repo.ts';
import { type WorkloadSpec, buildWorkload, benchKafka, createTopics, lifecycleMessages, produceAll, statsMessages, ROWS_PER_SAMPLE } from './load.ts';
import { decodedSamples, lanesOf } from './paths/rows.ts';
import { copyLimit, insertPerMessage, multiRowInsert } from './paths/database.ts';
import { consumeOnly } from './paths/consume.ts';
import { runWorkerOnce } from './paths/worker.ts';
import { latencyRun } from './paths/latency.ts';
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
  latencyMs: number;
}

export const FULL: BenchParams = {
  mode: 'full', spec: { apps: 50, containersPerApp: 20, intervals: 250, intervalMs: 5000 }, partitions: 6, reps: 3, batch: 1000, lanes: 2, // batch: the worker's default BATCH_MAX_MESSAGES
  sweep: [500, 1000, 2500, 5000, 10000, 20000], singleCapMs: 15000, multiCapMs: 30000, peerRows: 300_000, latencyMs: 30_000,
};
export const QUICK: BenchParams = {
  ...FULL, mode: 'quick', spec: { apps: 20, containersPerApp: 50, intervals: 60, intervalMs: 5000 }, reps: 1,
  sweep: [1000, 5000, 20000], singleCapMs: 3000, multiCapMs: 5000, peerRows: 16_000, latencyMs: 6000,
};
export const SMOKE: BenchParams = {
  ...FULL, mode: 'smoke', spec: { apps: 2, containersPerApp: 5, intervals: 20, intervalMs: 5000 }, partitions: 2, reps: 1, batch: 50,
  sweep: [50], singleCapMs: 1000, multiCapMs: 1000, peerRows: 400, latencyMs: 2000,
};

export interface BenchOptions {
  peer: boolean;
  profile: boolean;
  write: boolean;
  log: (s: string) => void;
  /** Also measure the 24-hour window read from rollups (bench/window-read.ts; about 2 minutes). */
  windowRead?: boolean;
}

export async function runBench(P: BenchParams, o: BenchOptions): Promise<Report> {
  const log = o.log;
  const w = buildWorkload(P.spec, P.partitions);
  const samples = w.samples.length;
  log(`workload: ${samples} stats messages (${w.rows} metric rows), ${w.lifecycle.length} lifecycle messages`);
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `bench-${id}.stats`, lifecycle: `bench-${id}.lifecycle`, dlq: `bench-${id}.dlq` };
  await createTopics([topics.stats, topics.lifecycle, topics.dlq], P.partitions);
  const kafka = benchKafka();
  await produceAll(kafka, topics.lifecycle, lifecycleMessages(w), 2000, 1);
  await produceAll(kafka, topics.stats, statsMessages(w));
  const decoded = decodedSamples(w);
  const lanes = lanesOf(decoded, P.lanes, P.batch);

  const notes: string[] = [];
  const peerWhy = !o.peer ? 'skipped with --no-peer' : ensureConnectLibs(log);
  let peerTopic: string | undefined;
  const peerSamples = decoded.slice(0, Math.ceil(P.peerRows / ROWS_PER_SAMPLE));
  if (!peerWhy) peerTopic = await producePeerTopic(peerRecords(peerSamples), P.partitions);
  const peerRows = peerSamples.length * ROWS_PER_SAMPLE;

  const runs: Record<string, number[]> = { worker: [], rss: [], copy: [], multi: [], single: [], consume: [], peer: [], peerRss: [] };
  const peerErrors: string[] = [];
  for (let r = 0; r < P.reps; r++) {
    log(`round ${r + 1}/${P.reps}: worker end-to-end`);
    const wr = await runWorkerOnce(topics, samples, { BATCH_MAX_MESSAGES: String(P.batch) });
    if (wr.rowsLanded !== w.rows) throw new Error(`worker landed ${wr.rowsLanded} of ${w.rows} rows`);
    runs.worker!.push(wr.rowsPerSec);
    runs.rss!.push(wr.peakRssMb);
    log(`  ${Math.round(wr.rowsPerSec)} rows/s, peak RSS ${wr.peakRssMb.toFixed(0)} MB; COPY limit`);
    runs.copy!.push((await copyLimit(w, lanes)).rowsPerSec);
    log(`  ${Math.round(runs.copy!.at(-1)!)} rows/s; multi-row INSERT`);
    runs.multi!.push((await multiRowInsert(w, lanes, P.multiCapMs)).rowsPerSec);
    log(`  ${Math.round(runs.multi!.at(-1)!)} rows/s; one INSERT per message`);
    runs.single!.push((await insertPerMessage(w, lanes, P.singleCapMs)).rowsPerSec);
    log(`  ${Math.round(runs.single!.at(-1)!)} rows/s; consume-only`);
    runs.consume!.push((await consumeOnly(topics.stats, samples)).rowsPerSec);
    log(`  ${Math.round(runs.consume!.at(-1)!)} rows/s`);
    if (peerTopic) {
      log('  peer: Kafka Connect + Debezium JDBC sink');
      try {
        const pr = await runPeerOnce(peerTopic, peerRows, P.lanes, P.batch);
        runs.peer!.push(pr.rowsPerSec);
        runs.peerRss!.push(pr.peakRssMb);
        log(`  ${Math.round(pr.rowsPerSec)} rows/s, JVM peak RSS ${pr.peakRssMb.toFixed(0)} MB`);
      } catch (err) {
        peerErrors.push((err as Error).message);
        log(`  peer failed: ${(err as Error).message}`);
      }
    }
  }

  log('batch-size sweep');
  const sweep: Report['sweep'] = [];
  for (const size of P.sweep) {
    const sr = size === P.batch ? { rowsPerSec: median(runs.worker!), peakRssMb: median(runs.rss!) } : await runWorkerOnce(topics, samples, { BATCH_MAX_MESSAGES: String(size) });
    sweep.push({ batchMaxMessages: size, rowsPerSec: sr.rowsPerSec, peakRssMb: sr.peakRssMb });
    log(`  ${size}: ${Math.round(sr.rowsPerSec)} rows/s`);
  }

  const workerRate = median(runs.worker!);
  log(`latency at half load (${Math.round(workerRate / 2)} rows/s for ${P.latencyMs / 1000} s)`);
  const lat = await latencyRun(w, P.partitions, workerRate / 2, P.latencyMs);

  const windowRead = o.windowRead ? await windowReadFigure(log) : undefined;

  let profile: string | undefined;
  if (o.profile) {
    const dir = join(repo, 'bench', 'results', 'profile');
    log(`profiling one end-to-end run (--cpu-prof into ${dir})`);
    await runWorkerOnce(topics, samples, { BATCH_MAX_MESSAGES: String(P.batch) }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    profile = profileSummary(dir, 20);
  }

  const m = (k: string) => median(runs[k]!);
  const fig = (name: string, k: string, unit: string, note?: string): Figure => ({ name, value: m(k), unit, runs: runs[k]!, ...(note ? { note } : {}) });
  const peerRan = runs.peer!.length > 0;
  const report: Report = {
    mode: P.mode,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    workload: { ...P.spec, statsMessages: samples, metricRows: w.rows, lifecycleMessages: w.lifecycle.length, kafkaPartitions: P.partitions, BATCH_MAX_MESSAGES: P.batch, connections: P.lanes },
    figures: [
      fig('worker end-to-end', 'worker', 'rows/s', 'Kafka -> worker (child process) -> PostgreSQL, first to last commit'),
      { name: 'ingest latency p50', value: lat.p50Ms, unit: 'ms', runs: [lat.p50Ms], note: `at ${Math.round(lat.achievedPerSec)} rows/s (half of max), ${lat.messages} messages` },
      { name: 'ingest latency p99', value: lat.p99Ms, unit: 'ms', runs: [lat.p99Ms], note: `max ${Math.round(lat.maxMs)} ms` },
      fig('worker peak RSS', 'rss', 'MB', 'VmHWM of the worker process at full speed'),
      fig('COPY limit', 'copy', 'rows/s', 'same rows, precomputed COPY text, same batches, 2 connections'),
      fig('multi-row INSERT', 'multi', 'rows/s', `same batches, <=8000 rows a statement, capped at ${P.multiCapMs / 1000} s`),
      fig('one INSERT per message', 'single', 'rows/s', `8-row INSERT autocommitted per message, capped at ${P.singleCapMs / 1000} s`),
      fig('consume-only', 'consume', 'rows/s', 'kafkajs + decode, no database'),
      ...(windowRead ? [windowRead] : []),
      ...(peerRan ? [fig('peer: Kafka Connect + Debezium JDBC', 'peer', 'rows/s', `${peerRows} rows, tasks.max=${P.lanes}, batch.size=${P.batch}`), fig('peer JVM peak RSS', 'peerRss', 'MB')] : []),
    ],
    sweep,
    ratios: [],
    peer: { ran: peerRan, versions: { 'connect-runtime': KAFKA_VERSION, 'debezium-connector-jdbc': DEBEZIUM_VERSION, java: '17' }, ...(peerWhy || !peerRan ? { reason: peerWhy ?? peerErrors.join('; ').slice(0, 500) } : {}) },
    notes,
  };
  const ratio = (name: string, value: number, target: string, met: boolean) => report.ratios.push({ name, value, target, met });
  ratio('worker / COPY limit', workerRate / m('copy'), '>= 0.60', workerRate / m('copy') >= 0.6);
  ratio('worker / one INSERT per message', workerRate / m('single'), '>= 10', workerRate / m('single') >= 10);
  ratio('worker / multi-row INSERT', workerRate / m('multi'), '> 1', workerRate / m('multi') > 1);
  ratio('worker / consume-only', workerRate / m('consume'), '(where time goes)', true);
  if (peerRan) ratio('worker / peer', workerRate / m('peer'), '>= 3', workerRate / m('peer') >= 3);
  ratio('p99 latency at half load (s)', lat.p99Ms / 1000, '< 1', lat.p99Ms < 1000);
  ratio('worker peak RSS (MB)', m('rss'), '< 300', m('rss') < 300);
  if (profile) notes.push(`CPU profile (self time, top functions):\n\n${profile}`);

  if (!o.write) return report;
  const out = join(repo, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  writeFileSync(join(out, `${report.mode}-${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, `${report.mode}-latest.json`), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, `sweep-${report.mode}.svg`), sweepSvg(sweep.map((s) => ({ x: s.batchMaxMessages, y: s.rowsPerSec })), {
    title: `End-to-end throughput vs BATCH_MAX_MESSAGES (${report.mode})`, xLabel: 'BATCH_MAX_MESSAGES (log scale)', yLabel: 'metric rows/s',
    refY: [{ y: m('copy'), label: 'COPY limit' }, ...(peerRan ? [{ y: m('peer'), label: 'Kafka Connect peer' }] : [])],
  }));
  log(`results in bench/results/${report.mode}-${stamp}.json and bench/results/sweep-${report.mode}.svg`);
  return report;
}
