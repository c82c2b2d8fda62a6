// A real Prometheus server for tests (the `prometheus` binary from Debian's package, installed by
// scripts/install-promtool.sh): the shipped configuration and rules, rewritten to scrape a local
// worker every second, and its HTTP API.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repo, waitUntil } from './worker.ts';

/** An executable `name` from $PROMETHEUS / PATH, or undefined. */
export function findBinary(name: string, envVar: string): string | undefined {
  for (const c of [process.env[envVar], ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name))]) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** The shipped scrape configuration, scraping `target` every second, loading `rulesFile`. */
export function derivedConfig(target: string, rulesFile: string): string {
  const shipped = readFileSync(join(repo, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8');
  const out = shipped
    .replace(/scrape_interval: \S+/, 'scrape_interval: 1s')
    .replace(/evaluation_interval: \S+/, 'evaluation_interval: 1s')
    .replace(/- alerts\.yml/, `- ${JSON.stringify(rulesFile)}`)
    .replace(/targets: \[[^\]]*\]/, `targets: [${JSON.stringify(target)}]`);
  if (!out.includes(target) || !out.includes(rulesFile)) throw new Error('deploy/prometheus/prometheus.yml no longer has the shape this test rewrites');
  return out;
}

/** The shipped rules with every `for:` shortened to `forSeconds` (the expressions are untouched). */
export function derivedRules(forSeconds: number): string {
  const shipped = readFileSync(join(repo, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
  return shipped.replace(/^(\s+)for: \S+$/gm, `$1for: ${forSeconds}s`);
}

export interface RunningPrometheus {
  url: string;
  api<T>(path: string): Promise<T>;
  /** Instant query; the result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(binary: string, target: string, forSeconds: number): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const rulesFile = join(dir, 'alerts.yml');
  writeFileSync(rulesFile, derivedRules(forSeconds));
  writeFileSync(join(dir, 'prometheus.yml'), derivedConfig(target, rulesFile));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let out = '';
  const child: ChildProcess = spawn(binary, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.on('exit', r));
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  await waitUntil(`prometheus ready:\n${out}`, async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, 30_000);
  return {
    url,
    api,
    query: async (expr) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    output: () => out,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
