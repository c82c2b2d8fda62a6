// Re-publishes dead-lettered messages to their source topic: original key, value and headers
// (the DLQ's context headers removed). Reads the DLQ from the beginning up to the end offsets
// seen at start, with a throwaway consumer group, so it never competes with the worker.
// A dead letter's source header is only a header: anyone who can write to the DLQ can forge it, so
// only the configured source topics are replayed to, unless the operator names the target (`to`).
import { randomUUID } from 'node:crypto';
import type { IHeaders, Kafka } from '../../kafka/client.ts';
import { DLQ_HEADERS, header } from './dlq.ts';

export interface ReplayOptions {
  dlqTopic: string;
  /** The topics a dead letter may name as its source (the configured stats and lifecycle topics). */
  sourceTopics: readonly string[];
  /** Publish every selected dead letter to this topic instead of the one its header names. */
  to?: string;
  code?: string;
  sinceMs?: number;
  idleTimeoutMs?: number;
  progress?: (p: { scanned: number; replayed: number }) => void;
}

const OWN = new Set<string>(Object.values(DLQ_HEADERS));

export interface ReplayResult {
  scanned: number;
  replayed: number;
  /** Selected dead letters left alone because their source header names a topic outside `sourceTopics`. */
  refused: number;
  refusedTopics: string[];
}

/**
 * Where a dead letter goes: undefined when the filters leave it out; `topic` undefined when it is
 * selected but its source header names a topic it may not be replayed to.
 */
function targetOf(headers: IHeaders | undefined, opts: ReplayOptions): { source: string; topic: string | undefined } | undefined {
  const source = header(headers, DLQ_HEADERS.topic);
  const code = header(headers, DLQ_HEADERS.code);
  const at = Date.parse(header(headers, DLQ_HEADERS.time) ?? '');
  if (!source || (opts.code && code !== opts.code) || (opts.sinceMs !== undefined && !(at >= opts.sinceMs))) return undefined;
  return { source, topic: opts.to ?? (opts.sourceTopics.includes(source) ? source : undefined) };
}

export async function replayDlq(kafka: Kafka, opts: ReplayOptions): Promise<ReplayResult> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(opts.dlqTopic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  const counts = { scanned: 0, replayed: 0, refused: 0 };
  const refusedTopics = new Set<string>();
  const result = (): ReplayResult => ({ ...counts, refusedTopics: [...refusedTopics].sort() });
  if (remaining.size === 0) return result();

  const groupId = `orchestry-ingest-dlq-replay-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([consumer.connect(), producer.connect()]);
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(finish, opts.idleTimeoutMs ?? 5000);
  };
  touch();
  try {
    await consumer.subscribe({ topic: opts.dlqTopic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        touch();
        const out: { topic: string; key: Buffer | null; value: Buffer | null; headers: IHeaders }[] = [];
        for (const m of batch.messages) {
          const end = remaining.get(batch.partition);
          if (end === undefined || BigInt(m.offset) >= end) break;
          counts.scanned++;
          const target = targetOf(m.headers, opts);
          if (target?.topic) {
            const headers: IHeaders = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) if (!OWN.has(k) && v !== undefined) headers[k] = v;
            out.push({ topic: target.topic, key: m.key, value: m.value, headers });
          } else if (target) {
            counts.refused++;
            refusedTopics.add(target.source);
          }
          resolveOffset(m.offset);
          if (BigInt(m.offset) + 1n >= end) remaining.delete(batch.partition);
        }
        const byTopic = new Map<string, typeof out>();
        for (const o of out) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
        for (const [topic, messages] of byTopic) {
          await producer.send({ topic, acks: -1, messages: messages.map(({ key, value, headers }) => ({ key, value, headers })) });
        }
        counts.replayed += out.length;
        opts.progress?.({ scanned: counts.scanned, replayed: counts.replayed });
        await heartbeat();
        if (remaining.size === 0) finish();
      },
    });
    await finished;
  } finally {
    clearTimeout(idle);
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    const cleanup = kafka.admin();
    await cleanup.connect().then(() => cleanup.deleteGroups([groupId])).catch(() => {});
    await cleanup.disconnect().catch(() => {});
  }
  return result();
}
