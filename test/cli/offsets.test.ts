// `orchestry-ingest offsets show | reset` through the real CLI: a skip ahead under load while a
// worker holds the partitions (fenced by the compare-and-set), and a rewind of a stopped group.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';
import { kafka, produce, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';
import type { RunningWorker } from '../../src/worker.ts';

let db: TestDatabase;
let topics: TestTopics;
let env: Record<string, string>;
const admin = kafka('offsets-test').admin();

before(async () => {
  db = await freshDatabase();
  topics = await testTopics(3);
  env = workerEnv(db.url, topics, { LAG_REFRESH_INTERVAL_MS: '200' });
  await admin.connect();
  await produce(topics.lifecycle, [{ key: 'off-app', value: registered('off-app', Date.now() - 600_000) }]);
});

after(async () => {
  await admin.disconnect();
  await db?.drop();
});

let seq = 0;
/** `n` stats messages, one rps row each (rps = a sequence number), spread over 12 containers. */
function batch(n: number) {
  return Array.from({ length: n }, () => {
    const i = seq++;
    return { key: `c${i % 12}`, value: stats('off-app', `c${i % 12}`, Date.now() - 1000, { rps: i }) };
  });
}

async function rpsRows(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics WHERE metric_type = 'rps'");
  return rows[0]!.n;
}

/** Waits until every stats partition's stored offset is its log end. */
async function caughtUp(): Promise<void> {
  await waitUntil('stored offsets at the log end', async () => {
    const ends = await admin.fetchTopicOffsets(topics.stats);
    const { rows } = await db.pool.query<{ partition: number; next_offset: string }>('SELECT partition, next_offset FROM ingest_offsets WHERE topic = $1', [topics.stats]);
    return ends.every((e) => Number(e.high) === 0 || rows.some((r) => r.partition === e.partition && Number(r.next_offset) === Number(e.high)));
  });
}

type Moved = { partition: number; from: number | null; to: number };

test('a skip to the latest offsets under load fences the live worker, which seeks there and stores exactly the rest', async () => {
  const worker: RunningWorker = await startTestWorker(env);
  let produced = 0;
  let loading = true;
  const load = (async () => {
    while (loading) {
      await produce(topics.stats, batch(100));
      produced += 100;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await waitUntil('rows flowing', async () => (await rpsRows()) >= 500);
    // A backlog the reset skips: the worker stops fetching stats while a burst lands.
    worker.ingest.consumer.pause([{ topic: topics.stats }]);
    await produce(topics.stats, batch(3000));
    produced += 3000;
    const plan = await runCli(['offsets', 'reset', '--topic', topics.stats, '--to-latest'], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /Plan only: nothing moved/);
    assert.match(plan.stdout, /Stable, 1 live member\(s\)/);
    assert.match(plan.stdout, /^\d+ .*\+\d+ +\S+@\S+$/m, 'a partition moving forward, held by the worker');
    const r = await runCli(['offsets', 'reset', '--topic', topics.stats, '--to-latest', '--execute', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    worker.ingest.consumer.resume([{ topic: topics.stats }]);
    const out = JSON.parse(r.stdout) as { plan: { liveMembers: number }; result: { moved: Moved[]; kafka: string } };
    assert.equal(out.plan.liveMembers, 1);
    assert.equal(out.result.kafka, 'follow');
    const skipped = out.result.moved.reduce((s, m) => s + (m.to - (m.from ?? 0)), 0);
    assert.ok(skipped >= 2000, `skipped ${skipped} messages`);
    await new Promise((r) => setTimeout(r, 1000));
    loading = false;
    await load;
    await caughtUp();
    // Exactly once outside the skipped range: every other message is one rps row, none twice.
    assert.equal(await rpsRows(), produced - skipped);
    const fenced = (await worker.metrics.fenced.get()).values.reduce((s, v) => s + v.value, 0);
    assert.ok(fenced >= 1, 'the worker lost its batch in flight to the compare-and-set');
    // Kafka's group offsets followed the worker's commits to the log end.
    const ends = new Map((await admin.fetchTopicOffsets(topics.stats)).map((e) => [e.partition, Number(e.high)]));
    await waitUntil('Kafka committed offsets at the log end', async () => {
      const [c] = await admin.fetchOffsets({ groupId: topics.group, topics: [topics.stats] });
      return c!.partitions.every((p) => Number(p.offset) === ends.get(p.partition));
    });
  } finally {
    loading = false;
    await load;
    await worker.stop();
  }
});

test('a rewind by time of a stopped group moves the stored and Kafka offsets, and the restarted worker stores the range again', async () => {
  await caughtUp();
  const before = await rpsRows();
  // 100 messages on partition 0 with producer timestamps t0, t0 + 1 s, ..., later than every earlier
  // message of the partition (the broker's lookup answers the first offset at or after a time).
  const t0 = Date.now() + 1000;
  const producer = kafka('offsets-test-producer').producer();
  await producer.connect();
  const [meta] = await producer.send({
    topic: topics.stats,
    messages: batch(100).map((m, i) => ({ partition: 0, key: m.key, value: JSON.stringify(m.value), timestamp: String(t0 + i * 1000) })),
  });
  await producer.disconnect();
  const first = Number(meta!.baseOffset);
  const worker = await startTestWorker(env);
  await caughtUp();
  await worker.stop();
  assert.equal(await rpsRows(), before + 100);

  const bad = await runCli(['offsets', 'reset', '--topic', 'stats', '--partition', '0', '--to-offset', '999999'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /outside partition 0/);

  const at = new Date(t0 + 60_000).toISOString();
  const r = await runCli(['offsets', 'reset', '--topic', 'stats', '--partition', '0', '--to-time', at, '--execute', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { result: { moved: Moved[]; kafka: string } };
  assert.deepEqual(out.result.moved, [{ partition: 0, from: first + 100, to: first + 60 }]);
  assert.equal(out.result.kafka, 'set');
  const [c] = await admin.fetchOffsets({ groupId: topics.group, topics: [topics.stats] });
  assert.equal(Number(c!.partitions.find((p) => p.partition === 0)!.offset), first + 60);

  const shown = await runCli(['offsets', 'show', '--topic', 'stats', '--partition', '0', '--json'], env);
  assert.equal(shown.code, 0, shown.stderr);
  const [view] = JSON.parse(shown.stdout) as { moves: { stored: number; committed: number }[] }[];
  assert.deepEqual([view!.moves[0]!.stored, view!.moves[0]!.committed], [first + 60, first + 60]);

  // The rewound range (the last 40 messages) is stored again: documented, clear it first to avoid it.
  const again = await startTestWorker(env);
  try {
    await caughtUp();
    assert.equal(await rpsRows(), before + 140);
  } finally {
    await again.stop();
  }
});
