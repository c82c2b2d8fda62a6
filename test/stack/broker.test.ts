// kafkajs (behind src/kafka/client.ts) against the real local broker: produce, consume in a group, codecs, offsets.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CompressionTypes, createLocalKafka, type Consumer, type KafkaMessage } from '../../src/kafka/client.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';
import { stackDown, stackUp } from '../../tools/stack/index.ts';

let brokers: string[] = [];
let startedHere = false;
const consumers: Consumer[] = [];

before(async () => {
  if (process.env.KAFKA_BROKERS) {
    brokers = process.env.KAFKA_BROKERS.split(',');
    return;
  }
  const up = await stackUp({ ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}) });
  startedHere = up.started.kafka || up.started.postgres;
  brokers = up.kafkaBrokers.split(',');
});

after(async () => {
  await Promise.allSettled(consumers.map((c) => c.disconnect()));
  if (startedHere) await stackDown();
});

const kafka = () => createLocalKafka(brokers, 'stack-broker-test');

async function freshTopic(partitions = 1): Promise<string> {
  const name = `test.stack.${randomUUID()}`;
  await ensureTopics(brokers, [{ name, partitions }]);
  return name;
}

/** Consumes `topic` from the beginning in a new group until `count` messages arrived. */
async function consume(topic: string, count: number, timeoutMs = 30_000): Promise<KafkaMessage[]> {
  const consumer = kafka().consumer({ groupId: `test-${randomUUID()}`, maxWaitTimeInMs: 100 });
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: KafkaMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} messages`)), timeoutMs);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          got.push(message);
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return got;
}

test('a message produced to the real broker is consumed back by a consumer group', { timeout: 60_000 }, async () => {
  const topic = await freshTopic(3);
  const producer = kafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key: 'k1', value: 'hello', headers: { 'content-type': 'application/json' } }] });
  } finally {
    await producer.disconnect();
  }
  const [message] = await consume(topic, 1);
  assert.equal(message?.key?.toString(), 'k1');
  assert.equal(message?.value?.toString(), 'hello');
  assert.equal(message?.headers?.['content-type']?.toString(), 'application/json');
});

test('the admin client reports topic offsets after a produce', { timeout: 60_000 }, async () => {
  const topic = await freshTopic(2);
  const client = kafka();
  const producer = client.producer();
  await producer.connect();
  await producer.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ value: `m${i}`, partition: i % 2 })) });
  await producer.disconnect();
  const admin = client.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]).sort(), [[0, '0', '2'], [1, '0', '2']]);
  } finally {
    await admin.disconnect();
  }
});

for (const [name, compression] of [
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4],
  ['zstd', CompressionTypes.ZSTD],
] as const) {
  test(`a ${name}-compressed batch round-trips through the real broker`, { timeout: 60_000 }, async () => {
    const topic = await freshTopic();
    const values = Array.from({ length: 200 }, (_, i) => JSON.stringify({ i, codec: name, pad: 'x'.repeat(i * 10) }));
    const producer = kafka().producer();
    await producer.connect();
    try {
      await producer.send({ topic, compression, messages: values.map((value) => ({ value })) });
    } finally {
      await producer.disconnect();
    }
    const got = await consume(topic, values.length);
    assert.deepEqual(got.map((m) => m.value?.toString()), values);
  });
}

test('a 10 MB message fits through the broker', { timeout: 60_000 }, async () => {
  const topic = await freshTopic();
  const value = Buffer.alloc(10 * 1024 * 1024, 'a');
  const producer = kafka().producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
  const [message] = await consume(topic, 1);
  assert.equal(message?.value?.length, value.length);
});
