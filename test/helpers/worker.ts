// Running the worker in tests: in-process (startWorker) or as a real child process (for signals).
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { loadConfig, WORKER_REQUIRES, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startWorker, type RunningWorker } from '../../src/worker.ts';
import type { TestTopics } from './kafka.ts';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The environment of a worker for one test: its database, topics and group; no HTTP, no scheduler. */
export function workerEnv(dbUrl: string, topics: TestTopics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
    DATABASE_URL: dbUrl,
    KAFKA_TOPIC_STATS: topics.stats,
    KAFKA_TOPIC_LIFECYCLE: topics.lifecycle,
    KAFKA_TOPIC_DLQ: topics.dlq,
    KAFKA_GROUP_ID: topics.group,
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    BATCH_MAX_WAIT_MS: '50',
    HTTP_PORT: '0',
    SCHEDULER_ENABLED: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    LOG_PRETTY: 'false',
    ...extra,
  };
}

export function testConfig(env: Record<string, string>): Config {
  return loadConfig(env);
}

/** Starts a worker in this process; logs go nowhere unless TEST_LOG_LEVEL is set. */
export async function startTestWorker(env: Record<string, string>, opts: { http?: boolean } = {}): Promise<RunningWorker> {
  const config = loadConfig(env, { require: WORKER_REQUIRES });
  const sink = new Writable({ write: (chunk, _enc, cb) => (process.env.TEST_LOG_LEVEL ? process.stderr.write(chunk, cb) : cb()) });
  const logger = createLogger({ level: config.log.level, destination: sink });
  return startWorker(config, logger, { http: opts.http ?? false, scheduler: false });
}

export interface ChildWorker {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `orchestry-ingest run` as a child process with `env` on top of this process's env. */
export function spawnWorker(env: Record<string, string>): ChildWorker {
  let out = '';
  const child = spawn(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), 'run'], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `what` in the message. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000, stepMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
