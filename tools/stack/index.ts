// The local stack (Kafka broker + PostgreSQL) for development and tests: up, down, status. Not part
// of the product: the CLI loads it from a development checkout (src/cli/local-stack.ts).
// State lives in <root>/state.json; processes are detached so they outlive the CLI that started them.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalStack, StackOptions, StackStatus, StackTopics, StackUpOptions, StackUpResult } from '../../src/cli/local-stack.ts';
import { DEFAULT_TOPICS } from '../../src/config.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { kafkaAnswers, startKafka, stopKafka } from './kafka.ts';
import { withLock } from './lock.ts';
import { startPostgres, stopPostgres } from './postgres.ts';
import { s3Answers, s3Env, startS3Proxy, stopS3Proxy } from './s3proxy.ts';
import { pidAlive, portAnswers } from './process.ts';
import { readPorts, readState, removeState, writePorts, writeState, type StackState } from './state.ts';


/** The directory holding package.json of this project, found from this file upwards. */
export function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'orchestry-ingest') return d;
  }
  throw new Error('stack: cannot find the orchestry-ingest package root');
}

export function stackRoot(root?: string): string {
  return resolve(root ?? process.env.STACK_DIR ?? join(repoRoot(), '.stack'));
}

const noLog = () => {};

async function kafkaUp(s: StackState): Promise<boolean> {
  return !!s.kafka && pidAlive(s.kafka.pid) && (await portAnswers(s.kafka.port)) && (await kafkaAnswers(s.kafka.brokers));
}
async function postgresUp(s: StackState): Promise<boolean> {
  return !!s.postgres && pidAlive(s.postgres.pid) && (await portAnswers(s.postgres.port));
}

async function s3Up(repo: string, root: string, state: StackState, port: number | undefined, log: (line: string) => void): Promise<Record<string, string>> {
  if (state.s3 && pidAlive(state.s3.pid) && (await s3Answers(state.s3.endpoint))) {
    log(`s3proxy: reusing pid ${state.s3.pid} on ${state.s3.endpoint}`);
  } else {
    state.s3 = await startS3Proxy(repo, root, { ...state.s3, ...(port ? { port } : {}) }, log);
    await writeState(root, state);
    await writePorts(root, { s3: state.s3.port });
  }
  return s3Env(state.s3);
}

/** Brings the stack up, or reuses the one already running under `root`. Given addresses are used as they are. */
export async function stackUp(opts: StackUpOptions = {}): Promise<StackUpResult> {
  const root = stackRoot(opts.root);
  const log = opts.log ?? noLog;
  const repo = repoRoot();
  return withLock(root, async () => {
    const state = await readState(root);
    const ports = await readPorts(root);
    const started = { kafka: false, postgres: false };

    let kafkaBrokers = opts.kafkaBrokers;
    if (!kafkaBrokers) {
      if (state.kafka && (await kafkaUp(state))) {
        log(`kafka: reusing pid ${state.kafka.pid} on ${state.kafka.brokers}`);
      } else {
        if (state.kafka) log(`kafka: recorded pid ${state.kafka.pid} is not answering; starting again`);
        delete state.kafka;
        await writeState(root, state);
        await stopKafka(root, undefined, log);
        state.kafka = await startKafka(repo, root, { port: ports.kafka, controller: ports.controller }, log);
        started.kafka = true;
        await writeState(root, state);
        await writePorts(root, { kafka: state.kafka.port, controller: state.kafka.controllerPort });
      }
      kafkaBrokers = state.kafka.brokers;
      const t = opts.topics ?? DEFAULT_TOPICS;
      await ensureTopics(kafkaBrokers.split(','), [
        { name: t.stats, partitions: 6 },
        { name: t.lifecycle, partitions: 6 },
        { name: t.dlq, partitions: 3 },
      ]);
      log(`kafka: topics ${t.stats}, ${t.lifecycle}, ${t.dlq} ready`);
    }

    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      if (state.postgres && (await postgresUp(state))) {
        log(`postgres: reusing pid ${state.postgres.pid} on port ${state.postgres.port}`);
      } else {
        if (state.postgres) log(`postgres: recorded pid ${state.postgres.pid} is not answering; starting again`);
        delete state.postgres;
        await writeState(root, state);
        state.postgres = await startPostgres(root, ports.postgres, log);
        started.postgres = true;
        await writeState(root, state);
        await writePorts(root, { postgres: state.postgres.port });
      }
      databaseUrl = state.postgres.url;
    }
    const s3 = opts.withS3 ? await s3Up(repo, root, state, ports.s3, log) : undefined;
    return { kafkaBrokers, databaseUrl, started, ...(s3 ? { s3 } : {}) };
  });
}

/** Stops what the stack under `root` runs and removes its state; `purge` also deletes the data dirs. */
export async function stackDown(opts: StackOptions & { purge?: boolean } = {}): Promise<void> {
  const root = stackRoot(opts.root);
  const log = opts.log ?? noLog;
  if (!existsSync(root)) return;
  await withLock(root, async () => {
    const state = await readState(root);
    const results = await Promise.allSettled([stopKafka(root, state.kafka?.pid, log), stopPostgres(root, log), stopS3Proxy(root, state.s3?.pid, log)]);
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failed.length > 0) throw new AggregateError(failed, `stack: stopping failed: ${failed.map((e) => e.message).join('; ')}`);
    await removeState(root);
    if (opts.purge) {
      log(`stack: deleting data under ${root}`);
      await rm(join(root, 'kafka'), { recursive: true, force: true });
      await rm(join(root, 'postgres'), { recursive: true, force: true });
      await rm(join(root, 's3proxy'), { recursive: true, force: true });
      await rm(join(root, 'ports.json'), { force: true });
    }
    log('stack: down');
  });
}

/** What the stack under `root` runs, checked live (pid alive and port answering). */
export async function stackStatus(opts: StackOptions = {}): Promise<StackStatus> {
  const state = await readState(stackRoot(opts.root));
  const k = state.kafka;
  const p = state.postgres;
  return {
    kafka: { running: !!k && pidAlive(k.pid) && (await portAnswers(k.port)), pid: k?.pid, brokers: k?.brokers },
    postgres: { running: !!p && pidAlive(p.pid) && (await portAnswers(p.port)), pid: p?.pid, url: p?.url },
  };
}

/** The CLI's view of this module (src/cli/local-stack.ts loads it by path). */
export const localStack: LocalStack = { stackUp, stackDown, stackStatus };

export type { StackOptions, StackStatus, StackTopics, StackUpOptions, StackUpResult };
