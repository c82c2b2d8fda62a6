// The fault harness: worker child processes with their own HTTP port, memory samples, readiness
// probes, and waiting until every produced message is accounted for in PostgreSQL.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Pool } from '../../src/db/pool.ts';
import { kafka, type TestTopics } from '../helpers/kafka.ts';
import { spawnWorker, workerEnv, type ChildWorker } from '../helpers/worker.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The fault-suite profile: `full` (default) or `ci` (FAULTS_PROFILE=ci: fewer kills, shorter outages). */
export const PROFILE = process.env.FAULTS_PROFILE === 'ci' ? 'ci' : 'full';
export const P =
  PROFILE === 'ci'
    ? { kills: 10, killGapMs: [500, 2500], pgOutageMs: 15_000, kafkaOutageMs: 20_000, groupPhaseMs: 8_000, rate: 300, schedulerRounds: 2 }
    : { kills: 20, killGapMs: [500, 5000], pgOutageMs: 30_000, kafkaOutageMs: 30_000, groupPhaseMs: 20_000, rate: 500, schedulerRounds: 5 };

export async function freeHttpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface Worker extends ChildWorker {
  port: number;
  name: string;
}

/** `orchestry-ingest run` as a child process on a free HTTP port (scheduler off unless `extra` says otherwise). */
export async function startWorker(dbUrl: string, topics: TestTopics, name: string, extra: Record<string, string> = {}): Promise<Worker> {
  const port = await freeHttpPort();
  const w = spawnWorker(workerEnv(dbUrl, topics, { HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1', WORKER_ID: name, DB_RETRY_MAX_BACKOFF_MS: '2000', ...extra }));
  return Object.assign(w, { port, name });
}

/** Waits until the worker answers /readyz with 200. */
export async function whenReady(w: Worker, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) throw new Error(`worker ${w.name} exited during start-up:\n${w.output().slice(-3000)}`);
    if ((await readyz(w)) === 200) return;
    await sleep(250);
  }
  throw new Error(`worker ${w.name} not ready within ${timeoutMs} ms:\n${w.output().slice(-3000)}`);
}

/** Polls /readyz for `ms` (while a fault lasts), calling `tick` each time; returns the statuses seen. */
export async function pollReadyz(w: Worker, ms: number, everyMs: number, tick: () => void = () => {}): Promise<Set<number>> {
  const statuses = new Set<number>();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    statuses.add(await readyz(w));
    tick();
    await sleep(everyMs);
  }
  return statuses;
}

/** Waits up to `timeoutMs` for /readyz to answer 200; returns the last status and the seconds it took. */
export async function readyAgain(w: Worker, timeoutMs: number, everyMs: number): Promise<{ status: number; seconds: string }> {
  const back = Date.now();
  let status = 0;
  while (Date.now() - back < timeoutMs && (status = await readyz(w)) !== 200) await sleep(everyMs);
  return { status, seconds: ((Date.now() - back) / 1000).toFixed(1) };
}

/** The status of GET /readyz, or 0 when the server does not answer. */
export async function readyz(w: Worker): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${w.port}/readyz`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Resident memory of a process in MB (VmRSS), or undefined when it is gone. */
export function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function kill(w: Worker, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  return w.exited;
}

/** Stops workers: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAll(workers: Worker[], graceMs = 35_000): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.child.kill('SIGTERM');
      const t = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
      await w.exited;
      clearTimeout(t);
    }),
  );
}

/** Sum of the high watermarks of the topics. */
async function endOffsets(topics: string[]): Promise<number> {
  const admin = kafka('fault-harness').admin();
  await admin.connect();
  try {
    let n = 0;
    for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high);
    return n;
  } finally {
    await admin.disconnect();
  }
}

/** The stored offsets of the source topics, summed. */
export async function storedSum(pool: Pool, topics: TestTopics): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT coalesce(sum(next_offset), 0)::bigint AS n FROM ingest_offsets WHERE topic = ANY($1)', [[topics.stats, topics.lifecycle]]);
  return Number(rows[0]!.n);
}

/** Waits until PostgreSQL's stored offsets reach the end of both source topics (every message decided). */
export async function drained(pool: Pool, topics: TestTopics, timeoutMs = 180_000): Promise<void> {
  const names = [topics.stats, topics.lifecycle];
  const deadline = Date.now() + timeoutMs;
  let end = 0;
  let stored = 0;
  while (Date.now() < deadline) {
    end = await endOffsets(names);
    stored = await storedSum(pool, topics).catch(() => -1);
    if (stored === end) return;
    await sleep(500);
  }
  throw new Error(`not drained within ${timeoutMs} ms: stored offsets ${stored} of ${end}`);
}

/** A random integer in [lo, hi]. */
export const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
