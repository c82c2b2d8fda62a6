// dlq replay: dead letters go back to their source topic and, once the cause is fixed, are stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { replayDlq } from '../../src/ingest/replay.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { headerText, kafka, produce, readAll, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';
import type { RunningWorker } from '../../src/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let worker: RunningWorker;

before(async () => {
  db = await freshDatabase();
  await db.pool.query(`ALTER TABLE metrics ADD CONSTRAINT test_cap CHECK (metric_type <> 'rps' OR value < 1000)`);
  topics = await testTopics();
  worker = await startTestWorker(workerEnv(db.url, topics));
});

after(async () => {
  await worker?.stop();
  await db?.drop();
});

const rpsRows = async (app: string) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM metrics WHERE app_name = $1 AND metric_type = 'rps'`, [app])).rows[0]!.n;

test('replaying E_DB_REJECTED dead letters after the cause is fixed stores them, and other codes are left alone', async () => {
  const now = Date.now();
  await produce(topics.stats, [
    { key: 'c1', value: stats('replay-app', 'c1', now - 3000, { rps: 5000 }), headers: { trace: 't-1' } },
    { key: 'c1', value: stats('replay-app', 'c1', now - 2000, { rps: 10 }) },
    { key: 'c2', value: 'garbage' },
  ]);
  await waitUntil('two dead letters', async () => (await db.pool.query('SELECT 1 FROM ingest_dead_letters')).rowCount === 2);
  assert.equal(await rpsRows('replay-app'), 1);

  await db.pool.query('ALTER TABLE metrics DROP CONSTRAINT test_cap');
  const seen: number[] = [];
  const res = await replayDlq(kafka(), { dlqTopic: topics.dlq, code: 'E_DB_REJECTED', progress: (p) => seen.push(p.replayed) });
  assert.deepEqual(res, { scanned: 2, replayed: 1 });
  assert.ok(seen.length > 0);
  await waitUntil('replayed row stored', async () => (await rpsRows('replay-app')) === 2);
  const source = await readAll(topics.stats);
  const replayed = source.filter((m) => headerText(m.headers, 'trace') === 't-1');
  assert.equal(replayed.length, 2, 'the original and its replay, with the original headers');
  assert.equal(headerText(replayed[1]!.headers, 'orchestry.error.code'), undefined, 'DLQ context headers are removed');
});

test('--since leaves out dead letters older than the given time', async () => {
  const res = await replayDlq(kafka(), { dlqTopic: topics.dlq, sinceMs: Date.now() + 60_000 });
  assert.equal(res.replayed, 0);
  assert.ok(res.scanned >= 2);
});
