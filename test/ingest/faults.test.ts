// Ingestion under faults (issue 3): real worker processes, the real broker, a real PostgreSQL, and an
// exact account per message id (test/helpers/load.ts). The longer fault suite is test/faults/.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { kafka, readAll, testTopics } from '../helpers/kafka.ts';
import { LoadGenerator, account, formatTable, idOf, type Account } from '../helpers/load.ts';
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

test('committed chunks taken back with their stored offsets (a server crash after asynchronous commits): the live worker stores them again, once', async () => {
  const db = await database();
  const topics = await testTopics(3);
  const w = await worker(db, topics, 'taken-back'); // INGEST_SYNCHRONOUS_COMMIT=off, the default
  await whenReady(w);
  const load = new LoadGenerator({ topics, ratePerSec: 0, badEvery: 40 });
  for (let i = 0; i < 4; i++) await load.send(500);
  await drained(db.pool, topics, 120_000);
  // What a crash that loses the last commits leaves: in every partition, the second half of what was
  // stored is gone (rows, events and dead-letter records) and the stored offset is back where it began.
  const { rows: stored } = await db.pool.query<{ topic: string; partition: number; next_offset: number }>('SELECT topic, partition, next_offset FROM ingest_offsets WHERE next_offset > 1');
  const back = new Map(stored.map((r) => [`${r.topic}/${r.partition}`, Math.floor(Number(r.next_offset) / 2)]));
  const ids: string[] = [];
  for (const t of [topics.stats, topics.lifecycle]) {
    for (const m of await readAll(t)) {
      const from = back.get(`${t}/${m.partition}`);
      const id = idOf(m.value);
      if (from !== undefined && id && Number(m.offset) >= from) ids.push(id);
    }
  }
  assert.ok(ids.length > 500, `a real tail is taken back (${ids.length} messages)`);
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query(`DELETE FROM metrics WHERE labels->>'msg_id' = ANY($1)`, [ids]);
    await c.query(`DELETE FROM events WHERE details->>'message' = ANY($1)`, [ids]);
    for (const r of stored) {
      const from = back.get(`${r.topic}/${r.partition}`);
      await c.query('DELETE FROM ingest_dead_letters WHERE topic = $1 AND partition = $2 AND "offset" >= $3', [r.topic, r.partition, from]);
      await c.query('UPDATE ingest_offsets SET next_offset = $3 WHERE topic = $1 AND partition = $2', [r.topic, r.partition, from]);
    }
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  const before = await account('taken back (before the worker notices)', db.pool, load);
  assert.ok(before.lost >= ids.length * 0.9, `the tail is missing before the worker writes again (${before.lost} lost)`);
  // The next chunks find their stored offset moved: each lane fetches again from where it now stands.
  for (let i = 0; i < 2; i++) await load.send(500);
  await drained(db.pool, topics, 120_000);
  assert.equal(w.child.exitCode, null, 'the worker kept running');
  await stopAll([w]);
  assertExact(await account('commits taken back', db.pool, load));
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
