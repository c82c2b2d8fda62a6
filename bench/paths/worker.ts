// End-to-end: the real worker (`orchestry-ingest run`) as a child process on a fresh database, a
// new consumer group reading the pre-produced topics from the start. Throughput = metric rows
// committed per second (stored offsets x 8 rows, polled every 100 ms); peak RSS from VmHWM.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { benchDatabase, committedMessages, countRows, type BenchDatabase } from '../db.ts';
import { ROWS_PER_SAMPLE } from '../load.ts';
import { followProgress, peakRssMb, sleep } from '../stats.ts';
import { repo } from '../../tools/repo.ts';

export const WORKER_NODE_FLAGS = ['--max-old-space-size=256'];

/**
 * The worker runs as deployed (the Dockerfile's image): compiled to dist/ as by `npm run build`, once
 * per benchmark run (its child processes inherit the mark), so a stale dist/ is never measured. From
 * the sources, tsx's loader adds about 30 MB to the worker's RSS (140 against 172 MB idle) and nothing else.
 */
function buildWorker(): void {
  if (process.env.ORCHESTRY_BENCH_DIST_BUILT === '1') return;
  execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json')], { cwd: repo, stdio: 'inherit' });
  process.env.ORCHESTRY_BENCH_DIST_BUILT = '1';
}

export interface BenchTopics {
  stats: string;
  lifecycle: string;
  dlq: string;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 20 s) and returns its peak RSS in MB. */
  stop(): Promise<number>;
}

export function spawnBenchWorker(dbUrl: string, topics: BenchTopics, extra: Record<string, string> = {}, nodeFlags: string[] = []): WorkerProcess {
  let out = '';
  buildWorker();
  // The worker runs as deployed (Dockerfile CMD): compiled, with the V8 heap capped at 256 MB.
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...nodeFlags, join(repo, 'bin', 'orchestry-ingest.js'), 'run'], {
    cwd: repo,
    env: {
      ...process.env,
      ORCHESTRY_USE_DIST: '1',
      DATABASE_URL: dbUrl,
      KAFKA_TOPIC_STATS: topics.stats,
      KAFKA_TOPIC_LIFECYCLE: topics.lifecycle,
      KAFKA_TOPIC_DLQ: topics.dlq,
      KAFKA_GROUP_ID: `bench-${randomBytes(4).toString('hex')}`,
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      HTTP_PORT: '0',
      SCHEDULER_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      LOG_PRETTY: 'false',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      const rss = peakRssMb(child.pid!);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      return rss;
    },
  };
}

export interface WorkerRun {
  rowsPerSec: number;
  seconds: number;
  peakRssMb: number;
  rowsLanded: number;
}

/** Options of one end-to-end run: worker env, node flags, and an existing database to run into. */
export interface WorkerRunOptions {
  env?: Record<string, string>;
  nodeFlags?: string[];
  /** Run into this database (left as it is afterwards) instead of a fresh one; its metrics rows before the run are `rowsBefore`. */
  db?: BenchDatabase;
  rowsBefore?: number;
  /** Called with the worker's pid once it runs, and when the run is over (where-the-time-goes sampling). */
  onStart?: (pid: number) => void;
  /** Called at the first poll that sees rows committed (where the measured span starts), with the worker's pid. */
  onFirstCommit?: (pid: number) => void;
  onEnd?: () => Promise<void>;
}

/** One end-to-end run over `samples` stats messages already in `topics`. */
export async function runWorkerOnce(topics: BenchTopics, samples: number, o: WorkerRunOptions = {}): Promise<WorkerRun> {
  const db: BenchDatabase = o.db ?? (await benchDatabase());
  const w = spawnBenchWorker(db.url, topics, o.env, o.nodeFlags);
  o.onStart?.(w.child.pid!);
  try {
    const p = await followProgress(() => committedMessages(db.pool, topics.stats), samples, { timeoutMs: 900_000, onFirst: () => o.onFirstCommit?.(w.child.pid!) });
    if (!p.complete) throw new Error(`worker did not finish: ${p.done}/${samples} messages\n${w.output()}`);
    await o.onEnd?.();
    const rss = await w.stop();
    await sleep(100);
    const rowsLanded = (await countRows(db.pool, 'metrics')) - (o.rowsBefore ?? 0);
    return { rowsPerSec: p.rate * ROWS_PER_SAMPLE, seconds: p.seconds, peakRssMb: rss, rowsLanded };
  } finally {
    await w.stop();
    if (!o.db) await db.drop();
  }
}
