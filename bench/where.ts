// Where the time goes in one end-to-end run (`--profile`): CPU shares of the worker, PostgreSQL
// and the Kafka broker (from /proc, against the whole machine), the worker's own batch phases
// (its batch-duration histogram, scraped from /metrics), and PostgreSQL's statements
// (pg_stat_statements, when the server preloads it).
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import type { Pool } from '../src/db/pool.ts';
import { repo } from '../tools/repo.ts';

/** utime + stime of a process (and of its waited-for children), in clock ticks; 0 when gone. */
function ticks(pid: number, children = false): number {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(rest[11]) + Number(rest[12]) + (children ? Number(rest[13]) + Number(rest[14]) : 0);
  } catch {
    return 0;
  }
}

/** A process tree's ticks: the root (with its waited children) plus every live direct child. */
function treeTicks(root: number): number {
  let sum = ticks(root, true);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const rest = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(rest[1]) === root) sum += Number(rest[11]) + Number(rest[12]);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/** busy and total ticks of the whole machine (all cores). */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** The local stack's broker and PostgreSQL pids, when this run uses the stack in .stack/. */
export function stackPids(): { kafka?: number; postgres?: number } {
  try {
    const s = JSON.parse(readFileSync(join(repo, '.stack', 'state.json'), 'utf8')) as { kafka?: { pid: number; brokers: string }; postgres?: { pid: number; port: number } };
    return {
      ...(s.kafka && s.kafka.brokers === process.env.KAFKA_BROKERS ? { kafka: s.kafka.pid } : {}),
      ...(s.postgres && process.env.DATABASE_URL?.includes(`:${s.postgres.port}/`) ? { postgres: s.postgres.pid } : {}),
    };
  } catch {
    return {};
  }
}

export interface CpuShares {
  /** Share of the whole machine (all cores = 100 %) per process tree, and machine-wide busy. */
  shares: Record<string, number>;
  seconds: number;
  loadAverage: number[];
}

/** Starts sampling; `stop()` returns each tree's share of the machine over the interval. */
export function cpuSampler(pids: Record<string, number | undefined>): { stop(): CpuShares } {
  const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
  const start = named.map(([, pid]) => treeTicks(pid));
  const m0 = machineTicks();
  const t0 = performance.now();
  return {
    stop() {
      const m1 = machineTicks();
      const total = m1.total - m0.total || 1;
      const shares: Record<string, number> = { 'machine busy': (m1.busy - m0.busy) / total };
      named.forEach(([name, pid], i) => (shares[name] = (treeTicks(pid) - start[i]!) / total));
      return { shares, seconds: (performance.now() - t0) / 1000, loadAverage: loadavg() };
    },
  };
}

/** A free TCP port on 127.0.0.1 (for the worker's /metrics during the profiled run). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Seconds per batch phase (sum and count of orchestry_ingest_batch_duration_seconds), per topic. */
export async function batchPhases(port: number): Promise<{ topic: string; phase: string; seconds: number; batches: number }[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, { topic: string; phase: string; seconds: number; batches: number }>();
  for (const m of text.matchAll(/^orchestry_ingest_batch_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    const key = `${labels.topic}:${labels.phase}`;
    const e = out.get(key) ?? { topic: labels.topic ?? '', phase: labels.phase ?? '', seconds: 0, batches: 0 };
    if (m[1] === 'sum') e.seconds = Number(m[3]);
    else e.batches = Number(m[3]);
    out.set(key, e);
  }
  return [...out.values()];
}

/** Whether pg_stat_statements is loaded; creates the extension in `pool`'s database and resets it. */
export async function statementsReset(pool: Pool): Promise<boolean> {
  const { rows } = await pool.query<{ on: boolean }>("SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%' AS on");
  if (!rows[0]?.on) return false;
  await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await pool.query('SELECT pg_stat_statements_reset()');
  return true;
}

/** The statements of `pool`'s database by total execution time: calls, total ms, mean ms, rows. */
export async function statementsTop(pool: Pool, top: number): Promise<string> {
  const { rows } = await pool.query<{ query: string; calls: number; total: number; mean: number; rows: number }>(
    `SELECT regexp_replace(left(query, 90), '\\s+', ' ', 'g') AS query, calls, round(total_exec_time::numeric, 0)::float8 AS total,
            round(mean_exec_time::numeric, 2)::float8 AS mean, rows
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT $1`,
    [top],
  );
  return ['| statement | calls | total ms | mean ms | rows |', '|---|---:|---:|---:|---:|', ...rows.map((r) => `| \`${r.query.replace(/\|/g, '\\|')}\` | ${r.calls} | ${r.total} | ${r.mean} | ${r.rows} |`)].join('\n');
}

/**
 * CPU per row over a measured span: each process tree's CPU time (all its cores) divided by the rows
 * the span moved, in µs. `start` at the span's first row, `stop` at its end; NaN for a process not sampled.
 */
export function cpuSpan(): { start(pids: Record<string, number | undefined>): void; stop(): void; perRowUs(rows: number): Record<string, number> } {
  let sampler: ReturnType<typeof cpuSampler> | undefined;
  let shares: CpuShares | undefined;
  return {
    start(pids) {
      sampler = cpuSampler(pids);
    },
    stop() {
      shares = sampler?.stop();
    },
    perRowUs(rows) {
      if (!shares || rows <= 0) return {};
      const cores = cpus().length;
      return Object.fromEntries(Object.entries(shares.shares).map(([k, v]) => [k, (v * cores * shares!.seconds * 1e6) / rows]));
    },
  };
}
