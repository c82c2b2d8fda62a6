// The partition lanes without a broker or a database: a scripted pipeline stands in for the write
// stages (the lanes' own logic is what is under test; the integration and fault suites run them
// against the real broker and server). Order per partition, the slots, coalescing what queued up
// meanwhile, pause/resume at the high-water mark, Kafka's commit after PostgreSQL's, and what a
// seek, a fence, a failure, a new generation and a stop do to a queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Outcome } from '../../../src/ingest/pipeline.ts';
import { Lanes, type LaneControl, type LaneMessage } from '../../../src/ingest/source/lanes.ts';
import type { Session } from '../../../src/ingest/source/session.ts';

const logger = pino({ level: 'silent' });
const msgs = (from: number, n: number, size = 10): LaneMessage[] =>
  Array.from({ length: n }, (_, i) => ({ offset: String(from + i), key: null, value: Buffer.alloc(size) }));
/** The pause/resume/seek actions, without Kafka commits. */
const flow = (actions: string[]) => actions.filter((a) => !a.startsWith('commit'));
const tick = () => new Promise((r) => setTimeout(r, 5));

interface Call {
  topic: string;
  partition: number;
  offsets: number[];
  session: Session;
  done(o?: Outcome): void;
  fail(err: Error): void;
}

/** A pipeline whose every call waits until the test settles it; records the calls and the control's actions. */
function harness(opts: { slots?: number; maxMessages?: number; maxBytes?: number; holdCommits?: boolean; commitEveryMs?: number } = {}) {
  const calls: Call[] = [];
  const actions: string[] = [];
  const commitsAsked: string[] = [];
  let releaseCommits = () => {};
  const commitGate = opts.holdCommits ? new Promise<void>((r) => (releaseCommits = r)) : Promise.resolve();
  let inFlight = 0;
  let maxInFlight = 0;
  let stored = new Map<number, bigint>();
  const control: LaneControl = {
    pause: (t, p) => actions.push(`pause ${p}`),
    resume: (t, p) => actions.push(`resume ${p}`),
    seek: (t, p, o) => actions.push(`seek ${p} ${o}`),
    commit: async (t, p, next) => {
      commitsAsked.push(`commit ${p} ${next}`);
      await commitGate; // holdCommits: as a commit waiting for PostgreSQL's WAL flush
      actions.push(`commit ${p} ${next}`);
    },
  };
  const lanes = new Lanes<LaneMessage>({
    limits: { maxMessages: opts.maxMessages ?? 100, maxBytes: opts.maxBytes ?? 1_000_000 },
    slots: opts.slots ?? 2,
    commitEveryMs: opts.commitEveryMs ?? 0, // every stored offset goes to Kafka at once, unless a test spaces them
    control,
    logger,
    pipeline: {
      process: (topic, partition, messages, session) =>
        new Promise<Outcome>((resolve, reject) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          const offsets = messages.map((m) => Number(m.offset));
          const settle = () => inFlight--;
          calls.push({
            topic,
            partition,
            offsets,
            session,
            done: (o) => {
              settle();
              const next = BigInt(offsets[offsets.length - 1]! + 1);
              if (o === undefined) stored.set(partition, next);
              resolve(o ?? { kind: 'committed', next });
            },
            fail: (err) => {
              settle();
              reject(err);
            },
          });
        }),
      recover: async (_t, p) => stored.get(p),
    },
  });
  return {
    lanes,
    calls,
    actions,
    commitsAsked,
    releaseCommits: () => releaseCommits(),
    maxInFlight: () => maxInFlight,
    setStored: (m: Map<number, bigint>) => (stored = m),
    /** Settles every call (as committed) until the lanes stop making new ones. */
    async settleAll() {
      for (let i = 0; i < 200; i++) {
        await tick();
        const open = calls.filter((c) => !(c as { settled?: boolean }).settled);
        if (open.length === 0) return;
        for (const c of open) {
          (c as { settled?: boolean }).settled = true;
          c.done();
        }
      }
    },
  };
}

test('each partition is written in offset order, at most `slots` partitions at once, and what queued meanwhile goes in one chunk', async () => {
  const h = harness({ slots: 2, maxMessages: 100 });
  for (let p = 0; p < 4; p++) h.lanes.enqueue('t', p, msgs(0, 10));
  await tick();
  assert.equal(h.calls.length, 2, 'two slots: two partitions in flight');
  // While partition 0's first chunk is in flight, three more fetches arrive for it.
  h.lanes.enqueue('t', 0, msgs(10, 30));
  h.lanes.enqueue('t', 0, msgs(40, 30));
  h.lanes.enqueue('t', 0, msgs(70, 60));
  assert.equal(h.lanes.queuedOf('t', 0), 120);
  await h.settleAll();
  assert.equal(h.maxInFlight(), 2);
  const p0 = h.calls.filter((c) => c.partition === 0).map((c) => c.offsets);
  assert.deepEqual(p0.map((o) => [o[0], o[o.length - 1]]), [[0, 9], [10, 109], [110, 129]], 'queued fetches coalesce up to BATCH_MAX_MESSAGES');
  for (let p = 0; p < 4; p++) {
    const all = h.calls.filter((c) => c.partition === p).flatMap((c) => c.offsets);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i), `partition ${p} in order, each offset once`);
  }
  // Kafka's offset follows PostgreSQL's: committed once each lane ran dry, with the last stored offset.
  assert.ok(h.actions.includes('commit 0 130'), h.actions.join(', '));
  for (const p of [1, 2, 3]) assert.ok(h.actions.includes(`commit ${p} 10`));
  assert.equal(h.lanes.queuedOf('t', 0), 0);
});

test('a lane past two chunks pauses its partition and resumes it below one; bytes count as well as messages', async () => {
  const h = harness({ slots: 1, maxMessages: 10, maxBytes: 1_000 });
  h.lanes.enqueue('t', 0, msgs(0, 5));
  await tick();
  h.lanes.enqueue('t', 0, msgs(5, 19));
  assert.deepEqual(h.actions, [], '19 queued < 20');
  h.lanes.enqueue('t', 0, msgs(24, 1));
  assert.deepEqual(flow(h.actions), ['pause 0']);
  h.calls[0]!.done();
  await tick();
  // 20 queued: the next chunk takes 10, leaving 10 = half the high-water mark: still paused.
  assert.deepEqual(flow(h.actions), ['pause 0']);
  h.calls[1]!.done();
  await tick();
  assert.deepEqual(flow(h.actions), ['pause 0', 'resume 0'], 'below half: fetching resumes');
  await h.settleAll();

  const b = harness({ slots: 1, maxMessages: 1000, maxBytes: 1_000 });
  b.lanes.enqueue('t', 1, msgs(0, 1, 2_500));
  assert.deepEqual(b.actions, ['pause 1'], '2,500 bytes > 2 x BATCH_MAX_BYTES');
  await b.settleAll();
  assert.deepEqual(b.actions, ['pause 1', 'resume 1', 'commit 1 1']);
});

test('a seek drops the queue and seeks; a fence seeks to where the stored offset now stands; a chunk dropped meanwhile commits nothing to Kafka', async () => {
  const h = harness({ slots: 1 });
  h.lanes.enqueue('t', 0, msgs(50, 10));
  await tick();
  h.lanes.enqueue('t', 0, msgs(60, 10));
  h.calls[0]!.done({ kind: 'seek', offset: 20n });
  await tick();
  assert.deepEqual(h.actions, ['seek 0 20']);
  assert.equal(h.lanes.queuedOf('t', 0), 0, 'the fetched messages past the gap are dropped (fetched again after the seek)');
  assert.equal(h.calls.length, 1);

  h.lanes.enqueue('t', 0, msgs(20, 10));
  await tick();
  h.lanes.enqueue('t', 0, msgs(30, 10));
  h.setStored(new Map([[0, 90n]]));
  h.calls[1]!.done({ kind: 'fenced' });
  await tick();
  assert.deepEqual(h.actions, ['seek 0 20', 'seek 0 90']);
  assert.equal(h.lanes.queuedOf('t', 0), 0);

  // A new generation while a chunk is in flight: its session goes inactive, nothing is committed to Kafka.
  h.lanes.enqueue('t', 0, msgs(90, 10));
  await tick();
  h.lanes.enqueue('t', 0, msgs(100, 10));
  const inFlight = h.calls[2]!;
  assert.equal(inFlight.session.active(), true);
  h.lanes.clear();
  assert.equal(inFlight.session.active(), false);
  assert.equal(h.lanes.queuedOf('t', 0), 0);
  inFlight.done();
  await tick();
  assert.equal(h.calls.length, 3, 'the dropped queue is not written');
  assert.ok(!h.actions.some((a) => a.startsWith('commit')), h.actions.join(', '));
});

test('a pipeline failure drops the lane and fetches its messages again; a paused lane is resumed when dropped', async () => {
  const h = harness({ slots: 1, maxMessages: 10 });
  h.lanes.enqueue('t', 3, msgs(7, 25));
  assert.deepEqual(h.actions, ['pause 3']);
  await tick();
  h.calls[0]!.fail(new Error('connect ECONNREFUSED'));
  await tick();
  assert.deepEqual(h.actions, ['pause 3', 'resume 3'], 'dropped: fetching resumes');
  h.lanes.enqueue('t', 3, msgs(32, 5)); // fetched while the lane waits
  await new Promise((r) => setTimeout(r, 1100));
  assert.deepEqual(h.actions, ['pause 3', 'resume 3', 'seek 3 7'], 'from the first offset of the failed chunk, after 1 s');
  assert.equal(h.lanes.queuedOf('t', 3), 0, 'what was fetched meanwhile is dropped: it comes again after the seek');
  assert.equal(h.calls.length, 1);
});

test('a fetch that overlaps what is queued is queued without the overlap', async () => {
  const h = harness({ slots: 1 });
  h.lanes.enqueue('t', 0, msgs(0, 10));
  await tick();
  h.lanes.enqueue('t', 0, msgs(10, 10));
  h.lanes.enqueue('t', 0, msgs(15, 10));
  assert.equal(h.lanes.queuedOf('t', 0), 15);
  await h.settleAll();
  assert.deepEqual(h.calls.flatMap((c) => c.offsets), Array.from({ length: 25 }, (_, i) => i));
});

test('stop waits for the chunk in flight, takes nothing more, and commits the last stored offset to Kafka', async () => {
  const h = harness({ slots: 1 });
  h.lanes.enqueue('t', 0, msgs(0, 10));
  h.lanes.enqueue('t', 1, msgs(0, 10));
  await tick();
  let stopped = false;
  const stopping = h.lanes.stop().then(() => (stopped = true));
  await tick();
  assert.equal(stopped, false, 'waits for the chunk in flight');
  assert.equal(h.calls[0]!.session.active(), false, 'which is told to give up waiting');
  h.calls[0]!.done();
  await stopping;
  assert.equal(h.calls.length, 1, 'partition 1 was not started');
  assert.deepEqual(h.actions, ['commit 0 10']);
  h.lanes.enqueue('t', 0, msgs(10, 1));
  await tick();
  assert.equal(h.calls.length, 1, 'nothing is taken after stop');
});

test('a Kafka commit that waits (for the WAL flush) holds up neither the next chunk nor a new run of the lane; commits land in order and stop() waits for them', async () => {
  const h = harness({ slots: 1, holdCommits: true });
  h.lanes.enqueue('t', 0, msgs(0, 10));
  await tick();
  h.calls[0]!.done(); // stored: the lane runs dry and asks for Kafka's commit, which waits
  await tick();
  assert.deepEqual(h.commitsAsked, ['commit 0 10']);
  h.lanes.enqueue('t', 0, msgs(10, 10));
  await tick();
  assert.equal(h.calls.length, 2, 'the next messages are written while the commit waits');
  assert.deepEqual(h.calls[1]!.offsets, msgs(10, 10).map((m) => Number(m.offset)));
  h.calls[1]!.done();
  await tick();
  assert.deepEqual(h.commitsAsked, ['commit 0 10'], 'the second commit is chained behind the first');
  let stopped = false;
  const stop = h.lanes.stop().then(() => (stopped = true));
  await tick();
  assert.equal(stopped, false, 'stop() waits for the commits in flight');
  assert.deepEqual(h.actions, []);
  h.releaseCommits();
  await stop;
  assert.deepEqual(h.actions, ['commit 0 10', 'commit 0 20'], 'in order, the last stored offset last');
});

test('a lane that runs dry after every chunk commits to Kafka at most once per interval, the latest stored offset; stop() commits what is pending', async () => {
  const h = harness({ slots: 1, commitEveryMs: 300 });
  for (let i = 0; i < 3; i++) {
    h.lanes.enqueue('t', 0, msgs(i * 10, 10));
    await tick();
    h.calls[i]!.done();
    await tick();
  }
  assert.deepEqual(h.actions, ['commit 0 10'], 'the first at once; the next two wait for the interval');
  await new Promise((r) => setTimeout(r, 350));
  assert.deepEqual(h.actions, ['commit 0 10', 'commit 0 30'], 'once the interval is up, only the latest, with no new chunk to prompt it');
  h.lanes.enqueue('t', 0, msgs(30, 10));
  await tick();
  h.calls[3]!.done();
  await tick();
  assert.deepEqual(h.actions, ['commit 0 10', 'commit 0 30'], 'inside the interval again');
  await h.lanes.stop();
  assert.deepEqual(h.actions, ['commit 0 10', 'commit 0 30', 'commit 0 40'], 'stop() commits what is pending at once');
});
