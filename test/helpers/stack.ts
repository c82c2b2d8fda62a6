// Own-stack helpers for tests that stop PostgreSQL or Kafka: each such test runs its own server(s)
// under a temporary STACK_DIR root, so the shared stack other tests use is never disturbed.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, stackDown, stackRoot, stackUp } from '../../tools/stack/index.ts';
import { startKafka, stopKafka } from '../../tools/stack/kafka.ts';
import { startPostgres, stopPostgres } from '../../tools/stack/postgres.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';

export interface OwnStack {
  root: string;
  kafkaBrokers: string;
  databaseUrl: string;
  /** Stops this stack's PostgreSQL (fast shutdown, or `immediate`: a crash); throws when it has none. */
  stopPostgres(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts it again on the same port and data directory. */
  startPostgres(): Promise<void>;
  stopKafka(): Promise<void>;
  startKafka(): Promise<void>;
  /** Stops everything this stack started and deletes its directory. Safe to call twice. */
  down(): Promise<void>;
}

const log = (line: string) => {
  if (process.env.TEST_LOG_LEVEL) process.stderr.write(`[own stack] ${line}\n`);
};

/** A temporary root whose Kafka classpath cache is the shared one (no Maven run per test). */
export async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'orchestry-own-stack-'));
  for (const candidate of [join(stackRoot(), 'cache'), join(repoRoot(), '.stack', 'cache')]) {
    if (existsSync(candidate)) {
      await symlink(candidate, join(root, 'cache'));
      break;
    }
  }
  return root;
}

/**
 * Brings up an own PostgreSQL and/or Kafka under a temporary root. What is not owned is taken from
 * the shared stack (process.env.KAFKA_BROKERS / DATABASE_URL) and never stopped.
 */
export async function ownStack(own: { kafka?: boolean; postgres?: boolean }): Promise<OwnStack> {
  const root = await tempRoot();
  const up = await stackUp({
    root,
    log,
    ...(own.kafka ? {} : { kafkaBrokers: process.env.KAFKA_BROKERS ?? '' }),
    ...(own.postgres ? {} : { databaseUrl: process.env.DATABASE_URL ?? '' }),
  });
  const state = JSON.parse(await readFile(join(root, 'state.json'), 'utf8')) as {
    kafka?: { port: number; controllerPort: number; pid: number };
    postgres?: { port: number };
  };
  let kafkaPid = state.kafka?.pid;
  let downed = false;
  return {
    root,
    kafkaBrokers: up.kafkaBrokers,
    databaseUrl: up.databaseUrl,
    async stopPostgres(mode: 'fast' | 'immediate' = 'fast') {
      if (!state.postgres) throw new Error('this stack does not own PostgreSQL');
      await stopPostgres(root, log, mode);
    },
    async startPostgres() {
      if (!state.postgres) throw new Error('this stack does not own PostgreSQL');
      await startPostgres(root, state.postgres.port, log);
    },
    async stopKafka() {
      if (!state.kafka) throw new Error('this stack does not own Kafka');
      await stopKafka(root, kafkaPid, log);
    },
    async startKafka() {
      if (!state.kafka) throw new Error('this stack does not own Kafka');
      const k = await startKafka(repoRoot(), root, { port: state.kafka.port, controller: state.kafka.controllerPort }, log);
      if (k.port !== state.kafka.port) throw new Error(`kafka came back on port ${k.port}, not ${state.kafka.port}`);
      kafkaPid = k.pid;
    },
    async down() {
      if (downed) return;
      downed = true;
      await stopKafka(root, kafkaPid, log).catch(() => {});
      await stackDown({ root, log }).catch(() => {});
      await rm(root, { recursive: true, force: true }).catch(() => {});
    },
  };
}

/** Points this test process (and the workers it spawns) at `stack`. Test files run in their own process. */
export function useStack(stack: OwnStack): void {
  process.env.KAFKA_BROKERS = stack.kafkaBrokers;
  process.env.DATABASE_URL = stack.databaseUrl;
}

export { ensureTopics };
