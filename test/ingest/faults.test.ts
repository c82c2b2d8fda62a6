// Ingestion under faults (issue 3): real worker processes, the real broker, a real PostgreSQL, and an
// exact account per message id (test/helpers/load.ts). The longer fault suite is test/faults/.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { kafka, testTopics } from '../helpers/kafka.ts';
import { LoadGenerator, account, formatTable, type Account } from '../helpers/load.ts';
import { ownStack, type OwnStack } from '../helpers/stack.ts';
import { drained, kill, readyz, sleep, startWorker, stopAll, whenReady, type Worker } from '../faults/harness.ts';

const cleanups: (() => Promise<void>)[] = [];
const table: Account[] = [];
const workers: Worker[] = [];

after(async () => {
  await stopAll(workers, 5000);
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (table.length > 0) console.log(`\n${formatTable(table)}\n`);
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  return db;
}

async function worker(db: TestDatabase, topics: Awaited<ReturnType<typeof testTopics>>, name: string, extra: Record<string, string> = {}): Promise<Worker> {
  const w = await startWorker(db.url, topics, name, extra);
  workers.push(w);
  return w;
}

function assertExact(acc: Account): void {
  table.push(acc);
  assert.equal(acc.lost, 0, `lost ids: ${acc.lostIds.slice(0, 10).join(', ')}`);
  assert.equal(acc.duplicated, 0, `duplicated ids: ${acc.duplicatedIds.slice(0, 10).join(', ')}`);
  assert.ok(acc.produced > 0);
  assert.equal(acc.stored + acc.dlq, acc.produced);
  assert.equal(acc.deadLetterRows, acc.dlq, 'ingest_dead_letters holds each dead letter once');
}

test('a crash between the PostgreSQL commit and the Kafka commit, then restarts: every message stored once', async () => {
  const db = await database();
  const topics = await testTopics(3);
  const load = new LoadGenerator({ topics, ratePerSec: 0, badEvery: 50 });
  for (let i = 0; i < 6; i++) await load.send(500);
  // The fault point kills the worker right after each PostgreSQL commit, before Kafka's.
  let pgAheadOfKafka = false;
  for (let crash = 0; crash < 4; crash++) {
    const w = await worker(db, topics, `crashy-${crash}`, { ORCHESTRY_TEST_FAULT: 'crash-after-db-commit', BATCH_MAX_MESSAGES: '200' });
    const exit = await Promise.race([w.exited, sleep(90_000).then(() => undefined)]);
    assert.equal(exit?.signal, 'SIGKILL', `worker ${crash} died by its own SIGKILL:\n${w.output().slice(-2000)}`);
    if (!pgAheadOfKafka) {
      const admin = kafka('faults-offsets').admin();
      await admin.connect();
      const committed = await admin.fetchOffsets({ groupId: topics.group, topics: [topics.stats, topics.lifecycle] });
      await admin.disconnect();
      const { rows } = await db.pool.query<{ topic: string; partition: number; next_offset: number }>('SELECT topic, partition, next_offset FROM ingest_offsets');
      pgAheadOfKafka = rows.some((r) => {
        const k = committed.find((c) => c.topic === r.topic)?.partitions.find((p) => p.partition === r.partition);
        return Number(k?.offset ?? -1) < r.next_offset;
      });
    }
  }
  assert.ok(pgAheadOfKafka, 'the crash left PostgreSQL ahead of Kafka at least once (the fault point was hit)');
  const w = await worker(db, topics, 'healthy');
  await drained(db.pool, topics, 120_000);
  await stopAll([w]);
  assertExact(await account('crash after db commit x4', db.pool, load));
});

test('PostgreSQL stopped mid-stream, then started: everything produced is stored once', async () => {
  const own: OwnStack = await ownStack({ postgres: true });
  cleanups.push(() => own.down());
  const shared = process.env.DATABASE_URL;
  process.env.DATABASE_URL = own.databaseUrl;
  let db: TestDatabase;
  try {
    db = await freshDatabase();
  } finally {
    process.env.DATABASE_URL = shared;
  }
  const topics = await testTopics(3);
  const w = await worker(db, topics, 'pg-outage');
  await whenReady(w);
  const load = new LoadGenerator({ topics, ratePerSec: 200, badEvery: 40 });
  load.start();
  await sleep(5000);
  await own.stopPostgres();
  const seen: number[] = [];
  const down = Date.now();
  while (Date.now() - down < 20_000 && seen.at(-1) !== 503) {
    seen.push(await readyz(w));
    if (seen.at(-1) !== 503) await sleep(250);
  }
  assert.equal(seen.at(-1), 503, `/readyz reports PostgreSQL down (saw ${seen.join(',')}; worker exit ${w.child.exitCode}/${w.child.signalCode}):\n${w.output().slice(-3000)}`);
  await sleep(Math.max(0, 10_000 - (Date.now() - down)));
  await own.startPostgres();
  await sleep(5000);
  await load.stop();
  await drained(db.pool, topics, 120_000);
  assert.equal(w.child.exitCode, null, 'the worker kept running through the outage');
  await stopAll([w]);
  assertExact(await account('PostgreSQL down 10 s', db.pool, load));
  await db.pool.end();
});

test('two workers in one group, one stopped mid-stream: everything stored once', async () => {
  const db = await database();
  const topics = await testTopics(6);
  const a = await worker(db, topics, 'pair-a');
  const b = await worker(db, topics, 'pair-b');
  await Promise.all([whenReady(a), whenReady(b)]);
  const load = new LoadGenerator({ topics, ratePerSec: 300, badEvery: 40 });
  load.start();
  await sleep(8000);
  const exit = await kill(a, 'SIGTERM');
  assert.equal(exit.code, 0);
  await sleep(10_000);
  await load.stop();
  await drained(db.pool, topics, 120_000);
  await stopAll([b]);
  assertExact(await account('two workers, one stopped', db.pool, load));
});

test('SIGTERM during load: the worker exits 0 and nothing is lost', async () => {
  const db = await database();
  const topics = await testTopics(3);
  const w = await worker(db, topics, 'sigterm', { SHUTDOWN_TIMEOUT_MS: '20000' });
  await whenReady(w);
  const load = new LoadGenerator({ topics, ratePerSec: 400, badEvery: 40 });
  load.start();
  await sleep(6000);
  const t0 = Date.now();
  const exit = await kill(w, 'SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, w.output().slice(-2000));
  assert.ok(Date.now() - t0 < 20_000);
  await sleep(2000);
  await load.stop();
  const next = await worker(db, topics, 'sigterm-next');
  await drained(db.pool, topics, 120_000);
  await stopAll([next]);
  assertExact(await account('SIGTERM during load', db.pool, load));
});
