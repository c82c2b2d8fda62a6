// Consume-only: the same stats messages read from Kafka with the worker's consumer settings and
// decoded with its decoder, no database. Shows what Kafka + decode alone cost.
import { randomBytes } from 'node:crypto';
import { decodeStats } from '../../src/ingest/decode/decode.ts';
import { benchKafka, ROWS_PER_SAMPLE } from '../load.ts';

export interface ConsumeRun {
  rowsPerSec: number;
  seconds: number;
}

export async function consumeOnly(topic: string, samples: number, batchMaxBytes = 16 * 1024 * 1024): Promise<ConsumeRun> {
  const consumer = benchKafka('orchestry-bench-consume').consumer({
    groupId: `bench-consume-${randomBytes(4).toString('hex')}`,
    minBytes: 64 * 1024,
    maxWaitTimeInMs: 200,
    maxBytes: batchMaxBytes,
    maxBytesPerPartition: Math.floor(batchMaxBytes / 2),
  });
  const limits = { messageMaxBytes: 1 << 20, minTsMs: 0, maxTsMs: Number.MAX_SAFE_INTEGER };
  let seen = 0;
  let bad = 0;
  let first = 0;
  let last = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consume-only timed out at ${seen}/${samples}`)), 600_000);
      void consumer.run({
        partitionsConsumedConcurrently: 2,
        eachBatch: async ({ batch }) => {
          if (first === 0) first = performance.now();
          for (const m of batch.messages) if (m.value && !decodeStats(m.value, limits).ok) bad++;
          seen += batch.messages.length;
          last = performance.now();
          if (seen >= samples) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  if (bad > 0) throw new Error(`${bad} messages did not decode`);
  const seconds = (last - first) / 1000;
  // The first batch's own work is inside the window; its fetch wait is not.
  return { rowsPerSec: (seen * ROWS_PER_SAMPLE) / seconds, seconds };
}
