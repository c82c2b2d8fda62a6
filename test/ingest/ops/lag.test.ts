// The lag monitor: log end offsets (real broker when KAFKA_BROKERS is set) against ingest_offsets in a
// real database. The loop-resilience test uses a minimal fetchTopicOffsets object: there the broker is
// not what is under test, its failure is.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { refreshLag, startLagMonitor } from '../../../src/ingest/ops/lag.ts';
import { createLocalKafka, type Admin } from '../../../src/kafka/client.ts';
import { ensureTopics } from '../../../src/kafka/topics.ts';
import { createLogger } from '../../../src/log.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';

const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean) ?? [];

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db.drop();
});

function quietLogger() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c.toString());
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), text: () => chunks.join('') };
}

async function lagOf(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.consumerLag.get()).values) out[`${v.labels.topic}/${v.labels.partition}`] = v.value;
  return out;
}

async function store(topic: string, partition: number, nextOffset: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO ingest_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
     ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
    [topic, partition, nextOffset],
  );
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the lag of each partition is the log end offset minus the stored offset, or the whole log when nothing is stored', { skip: brokers.length === 0 ? 'KAFKA_BROKERS is not set (npm test sets it)' : false }, async () => {
  const topic = `test.lag.${randomUUID()}`;
  await ensureTopics(brokers, [{ name: topic, partitions: 2 }]);
  const kafka = createLocalKafka(brokers, 'lag-test');
  const producer = kafka.producer();
  const admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const { logger } = quietLogger();
  try {
    // Producer timestamps: partition 0 at now-500 s, -400, ..., -100 s; partition 1 at now-50 s, -40, -30 s.
    const now = Date.now();
    await producer.send({
      topic,
      messages: [
        ...Array.from({ length: 5 }, (_, i) => ({ partition: 0, key: 'a', value: `p0-${i}`, timestamp: String(now - (5 - i) * 100_000) })),
        ...Array.from({ length: 3 }, (_, i) => ({ partition: 1, key: 'b', value: `p1-${i}`, timestamp: String(now - (5 - i) * 10_000) })),
      ],
    });
    await store(topic, 0, 2);

    const lags = await refreshLag({ admin, pool: db.pool, metrics, topics: [topic] });
    assert.deepEqual(
      lags.map((l) => ({ partition: l.partition, end: l.end, stored: l.stored, lag: l.lag })).sort((a, b) => a.partition - b.partition),
      [
        { partition: 0, end: 5, stored: 2, lag: 3 },
        { partition: 1, end: 3, stored: undefined, lag: 3 },
      ],
    );
    assert.deepEqual(await lagOf(metrics), { [`${topic}/0`]: 3, [`${topic}/1`]: 3 });
    // Seconds behind: the oldest unconsumed message is offset 2 (now-300 s) on partition 0, and
    // offset 0 (now-50 s) on partition 1, each found to within 2 % or 1 s.
    const behind = Object.fromEntries(lags.map((l) => [l.partition, l.seconds - (Date.now() - now) / 1000]));
    assert.ok(behind[0]! >= 299 && behind[0]! <= 300 * 1.02 + 1, `partition 0 is ${behind[0]} s behind`);
    assert.ok(behind[1]! >= 49 && behind[1]! <= 50 * 1.02 + 1, `partition 1 is ${behind[1]} s behind`);
    const gauge = (await metrics.consumerLagSeconds.get()).values.map((v) => v.value);
    assert.deepEqual(gauge.sort(), lags.map((l) => l.seconds).sort());

    // The monitor picks up the stored offsets as the consumer advances them, until the lag is 0.
    const monitor = startLagMonitor({ admin, pool: db.pool, metrics, topics: [topic], intervalMs: 100, logger });
    try {
      await store(topic, 0, 5);
      await store(topic, 1, 3);
      await until(async () => Object.values(await lagOf(metrics)).every((v) => v === 0));
      await until(async () => (await metrics.consumerLagSeconds.get()).values.every((v) => v.value === 0));
      assert.ok((await metrics.lagRefreshes.get()).values.some((v) => v.labels.outcome === 'ok' && v.value > 0));
    } finally {
      await monitor.stop();
    }
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
  }
});

test('a failing refresh is logged and counted, the loop keeps going, and stop() waits for the refresh in flight', async () => {
  const topic = `test.lag.${randomUUID()}`;
  await store(topic, 0, 40);
  let calls = 0;
  let release: (() => void) | undefined;
  const admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp'> = {
    fetchTopicOffsetsByTimestamp: async () => [{ partition: 0, offset: '40' }],
    async fetchTopicOffsets() {
      calls += 1;
      if (calls <= 2) throw new Error('There is no leader for this topic-partition as we are in the middle of a leadership election');
      if (calls === 4) await new Promise<void>((r) => (release = r));
      return [{ partition: 0, offset: '100', high: '100', low: '0' }];
    },
  };
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const log = quietLogger();
  const monitor = startLagMonitor({ admin, pool: db.pool, metrics, topics: [topic], intervalMs: 20, logger: log.logger });
  await until(async () => (await lagOf(metrics))[`${topic}/0`] === 60);
  const outcomes = Object.fromEntries((await metrics.lagRefreshes.get()).values.map((v) => [v.labels.outcome, v.value]));
  assert.equal(outcomes.error, 2);
  assert.ok((outcomes.ok ?? 0) >= 1);
  assert.match(log.text(), /consumer lag refresh failed: There is no leader/);
  assert.match(log.text(), /consumer lag refresh recovered/);

  await until(async () => release !== undefined);
  let stopped = false;
  const stopping = monitor.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stopped, false, 'stop() waits for the refresh in flight');
  release?.();
  await stopping;
  const callsAtStop = calls;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls, callsAtStop, 'no refresh after stop()');
});
