// Kafka helpers for tests: own topics per test, producing, reading the DLQ back.
import { randomBytes } from 'node:crypto';
import { CompressionTypes, createLocalKafka, type IHeaders, type Kafka } from '../../src/kafka/client.ts';
import { ensureTopics } from '../../src/kafka/topics.ts';

export function brokers(): string[] {
  const b = process.env.KAFKA_BROKERS;
  if (!b) throw new Error('KAFKA_BROKERS is not set: run the tests with `npm test`, which brings up the local stack');
  return b.split(',');
}

export function kafka(clientId = 'orchestry-test'): Kafka {
  return createLocalKafka(brokers(), clientId);
}

export interface TestTopics {
  stats: string;
  lifecycle: string;
  dlq: string;
  group: string;
}

/** Fresh topics (and a consumer group name) for one test. */
export async function testTopics(partitions = 3): Promise<TestTopics> {
  const id = randomBytes(4).toString('hex');
  const t = { stats: `t-${id}.stats`, lifecycle: `t-${id}.lifecycle`, dlq: `t-${id}.dlq`, group: `g-${id}` };
  await ensureTopics(brokers(), [
    { name: t.stats, partitions },
    { name: t.lifecycle, partitions },
    { name: t.dlq, partitions: 1 },
  ]);
  return t;
}

export interface Out {
  key?: string | Buffer | null;
  value: string | Buffer | object | null;
  headers?: IHeaders;
}

/**
 * Produces messages (objects are JSON-encoded) and waits for the broker's acknowledgement; `via`
 * names other (plaintext) brokers than the shared stack's, e.g. a test's own SASL/TLS broker.
 */
export async function produce(topic: string, messages: Out[], compression: CompressionTypes = CompressionTypes.None, via: string[] = brokers()): Promise<void> {
  const producer = createLocalKafka(via, 'orchestry-test-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        compression,
        messages: messages.slice(i, i + 1000).map((m) => ({
          key: m.key ?? null,
          value: m.value === null || typeof m.value === 'string' || Buffer.isBuffer(m.value) ? m.value : JSON.stringify(m.value),
          ...(m.headers ? { headers: m.headers } : {}),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface Consumed {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** Every message currently in `topic` (up to the end offsets seen at call time). */
export async function readAll(topic: string): Promise<Consumed[]> {
  const k = kafka('orchestry-test-reader');
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const out: Consumed[] = [];
  if (remaining.size === 0) return out;
  const consumer = k.consumer({ groupId: `reader-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 60_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const end = remaining.get(partition);
        if (end === undefined || BigInt(message.offset) >= end) return;
        out.push({ partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers ?? {} });
        if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return out;
}

export const headerText = (h: IHeaders, name: string): string | undefined => {
  const v = h[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
};
