// /metrics after a known load: the counters equal what landed in the tables, and lag reaches 0.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { produce, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';
import type { RunningWorker } from '../../src/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let worker: RunningWorker;

before(async () => {
  db = await freshDatabase();
  topics = await testTopics();
  worker = await startTestWorker(workerEnv(db.url, topics, { LAG_REFRESH_INTERVAL_MS: '200' }), { http: true });
});

after(async () => {
  await worker?.stop();
  await db?.drop();
});

/** Sums the samples of one metric on /metrics whose labels include `match`. */
function sample(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('after a known load the /metrics counters equal the rows in the tables, and lag reaches 0', async () => {
  const now = Date.now();
  const good = Array.from({ length: 300 }, (_, i) => ({ key: `c${i % 17}`, value: stats('obs-app', `c${i % 17}`, now - 60_000 + i, { rps: i }) }));
  const bad = Array.from({ length: 7 }, (_, i) => ({ key: `b${i}`, value: `not json ${i}` }));
  await produce(topics.lifecycle, [{ key: 'obs-app', value: registered('obs-app', now - 120_000) }]);
  await produce(topics.stats, [...good.slice(0, 150), ...bad, ...good.slice(150)]);
  const base = `http://127.0.0.1:${worker.httpPort}`;
  let text = '';
  await waitUntil('all messages accounted and lag 0', async () => {
    text = await (await fetch(`${base}/metrics`)).text();
    const done = sample(text, 'orchestry_ingest_messages_total', { topic: topics.stats }) === 307;
    const lag = sample(text, 'orchestry_ingest_consumer_lag_messages', { topic: topics.stats });
    return done && lag === 0 && text.includes(`orchestry_ingest_consumer_lag_messages{topic="${topics.stats}"`);
  });
  const { rows } = await db.pool.query<{ metrics: number; events: number; dead: number }>(
    `SELECT (SELECT count(*)::int FROM metrics) AS metrics, (SELECT count(*)::int FROM events) AS events,
            (SELECT count(*)::int FROM ingest_dead_letters) AS dead`,
  );
  assert.equal(rows[0]!.metrics, 900);
  assert.equal(sample(text, 'orchestry_ingest_rows_written_total', { table: 'metrics' }), rows[0]!.metrics);
  assert.equal(sample(text, 'orchestry_ingest_rows_written_total', { table: 'events' }), rows[0]!.events);
  assert.equal(sample(text, 'orchestry_ingest_dlq_messages_total', { code: 'E_JSON' }), 7);
  assert.equal(rows[0]!.dead, 7);
  assert.equal(sample(text, 'orchestry_ingest_messages_total', { topic: topics.stats, outcome: 'stored' }), 300);
  assert.equal(sample(text, 'orchestry_ingest_messages_total', { topic: topics.stats, outcome: 'dlq' }), 7);
  assert.ok(sample(text, 'orchestry_ingest_last_commit_timestamp_seconds') > now / 1000 - 5);
  assert.equal(sample(text, 'orchestry_ingest_consumer_group_joined'), 1);
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
});
