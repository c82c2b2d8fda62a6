// dlq replay: dead letters go back to their source topic and, once the cause is fixed, are stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { replayDlq } from '../../../src/ingest/dead-letters/replay.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';
import { ensureTopics } from '../../../src/kafka/topics.ts';
import { brokers, headerText, kafka, produce, readAll, testTopics, type TestTopics } from '../../helpers/kafka.ts';
import { stats } from '../../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../../helpers/worker.ts';
import type { RunningWorker } from '../../../src/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let worker: RunningWorker;
let sourceTopics: string[];

before(async () => {
  db = await freshDatabase();
  await db.pool.query(`ALTER TABLE metrics ADD CONSTRAINT test_cap CHECK (metric_type <> 'rps' OR value < 1000)`);
  topics = await testTopics();
  sourceTopics = [topics.stats, topics.lifecycle];
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
  const res = await replayDlq(kafka(), { dlqTopic: topics.dlq, sourceTopics, code: 'E_DB_REJECTED', progress: (p) => seen.push(p.replayed) });
  assert.deepEqual(res, { scanned: 2, replayed: 1, refused: 0, refusedTopics: [] });
  assert.ok(seen.length > 0);
  await waitUntil('replayed row stored', async () => (await rpsRows('replay-app')) === 2);
  const source = await readAll(topics.stats);
  const replayed = source.filter((m) => headerText(m.headers, 'trace') === 't-1');
  assert.equal(replayed.length, 2, 'the original and its replay, with the original headers');
  assert.equal(headerText(replayed[1]!.headers, 'orchestry.error.code'), undefined, 'DLQ context headers are removed');
});

test('--since leaves out dead letters older than the given time', async () => {
  const res = await replayDlq(kafka(), { dlqTopic: topics.dlq, sourceTopics, sinceMs: Date.now() + 60_000 });
  assert.equal(res.replayed, 0);
  assert.ok(res.scanned >= 2);
});

test('a dead letter whose source header names another topic is not replayed there, and --to sends it where the operator says', async () => {
  const victim = `${topics.stats}.victim`;
  await ensureTopics(brokers(), [{ name: victim, partitions: 1 }]);
  const forged = stats('forged-app', 'c9', Date.now() - 1000, { rps: 7 });
  await produce(topics.dlq, [
    {
      key: 'c9',
      value: forged,
      headers: { 'orchestry.error.code': 'E_FORGED', 'orchestry.source.topic': victim, 'orchestry.error.time': new Date().toISOString(), origin: 'forger' },
    },
  ]);

  const refused = await replayDlq(kafka(), { dlqTopic: topics.dlq, sourceTopics, code: 'E_FORGED' });
  assert.deepEqual({ replayed: refused.replayed, refused: refused.refused, refusedTopics: refused.refusedTopics }, { replayed: 0, refused: 1, refusedTopics: [victim] });
  assert.equal((await readAll(victim)).length, 0, 'nothing was published to the topic the header named');

  const redirected = await replayDlq(kafka(), { dlqTopic: topics.dlq, sourceTopics, code: 'E_FORGED', to: topics.stats });
  assert.equal(redirected.replayed, 1);
  assert.equal(redirected.refused, 0);
  assert.equal((await readAll(victim)).length, 0);
  await waitUntil('the redirected message stored', async () => (await rpsRows('forged-app')) === 1);
  const inStats = (await readAll(topics.stats)).filter((m) => headerText(m.headers, 'origin') === 'forger');
  assert.equal(inStats.length, 1);
});
