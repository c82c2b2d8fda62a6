// A worker's whole life in its log: a healthy start (on a freshly started broker, whose group
// coordinator is still loading), steady ingestion and a clean stop print only strict JSON lines
// (no repeated key) at info or below.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from './helpers/db.ts';
import { produce, testTopics, type TestTopics } from './helpers/kafka.ts';
import { registered, stats } from './helpers/messages.ts';
import { parseStrictJson } from './helpers/strict-json.ts';
import { ownStack, type OwnStack } from './helpers/stack.ts';
import { spawnWorker, waitUntil, workerEnv } from './helpers/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let kafka: OwnStack | undefined;

before(async () => {
  kafka = await ownStack({ kafka: true });
  process.env.KAFKA_BROKERS = kafka.kafkaBrokers; // this file's process only
  db = await freshDatabase();
  for (let attempt = 1; ; attempt++) {
    try {
      topics = await testTopics();
      break;
    } catch (err) {
      if (attempt >= 10) throw err; // a broker this fresh may not know its new topics' leaders yet
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
});

after(async () => {
  await db?.drop();
  await kafka?.down();
});

const LEVELS = new Set(['trace', 'debug', 'info']);

test('a worker started, fed and stopped logs only unique-key JSON lines at info or below', async () => {
  const worker = spawnWorker(workerEnv(db.url, topics, { LOG_LEVEL: 'info', SCHEDULER_ENABLED: 'true', LAG_REFRESH_INTERVAL_MS: '500' }));
  try {
    const now = Date.now();
    await produce(topics.lifecycle, [{ key: 'log-app', value: registered('log-app', now - 60_000) }]);
    for (let round = 0; round < 3; round++) {
      const msgs = Array.from({ length: 100 }, (_, i) => ({ key: `c${i % 10}`, value: stats('log-app', `c${i % 10}`, now - 30_000 + round * 100 + i) }));
      await produce(topics.stats, msgs);
    }
    await waitUntil('600 metric rows stored', async () => {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM metrics');
      return rows[0]!.n === 600;
    });
    await waitUntil('a scheduler job ran', async () => {
      const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM job_runs WHERE status = 'succeeded'");
      return rows[0]!.n > 0;
    });
  } finally {
    worker.child.kill('SIGTERM');
  }
  const exit = await worker.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, worker.output());
  const lines = worker.output().split('\n').filter((l) => l.length > 0);
  const parsed = lines.map((l) => parseStrictJson(l) as { level: string; msg: string });
  const loud = parsed.filter((l) => !LEVELS.has(l.level));
  assert.deepEqual(loud, [], 'no line above info');
  // The run did log: start, stop, and what came in between.
  const messages = parsed.map((l) => l.msg);
  for (const m of ['worker started', 'joined the consumer group', 'stopped cleanly']) assert.ok(messages.includes(m), `logged "${m}"`);
  assert.ok(parsed.some((l) => (l as { component?: string }).component === 'http'), 'the HTTP component logged');
});
