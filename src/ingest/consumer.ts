// The consumer: both contract topics in one group, batch by batch per topic-partition.
// PostgreSQL holds the truth (ingest_offsets); Kafka's committed offset follows it, never leads.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool } from '../db/pool.ts';
import { IngestError, errorMessage } from '../errors.ts';
import { RECONNECT_BACKOFF_MAX_MS, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from '../kafka/client.ts';
import { registerCodecs } from '../kafka/codecs.ts';
import { decodeMessage, type DecodeLimits } from './decode.ts';
import { sendToDlq } from './dlq.ts';
import { loadStoredOffset } from './offsets.ts';
import { partitionsOf } from '../partitions/index.ts';
import { deadLetterOf, writeChunk, type Item, type TopicKind, type WriteResult, type WriterDeps } from './writer.ts';
import { Backpressure, retryDecision } from './retry.ts';

const DAY_MS = 86_400_000;

export interface IngestDeps {
  config: Config;
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  metrics: Metrics;
}

export interface Ingest {
  consumer: Consumer;
  producer: Producer;
  /**
   * Why the consumer cannot take work now, or undefined when it can: not a member of its group,
   * or no heartbeat answered by the group coordinator for a session timeout (the broker is gone;
   * kafkajs keeps retrying, and the coordinator would have evicted this member by now).
   */
  problem(): string | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Test-only fault point: kill the process between the PostgreSQL commit and the Kafka commit. */
function faultAfterDbCommit(): void {
  if (process.env.ORCHESTRY_TEST_FAULT === 'crash-after-db-commit') process.kill(process.pid, 'SIGKILL');
}

/** Fails start-up with one clear message when a contract topic is missing (auto-creation is off). */
async function checkTopicsExist(kafka: Kafka, names: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = names.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new IngestError('E_CONFIG', `Kafka topic(s) ${missing.join(', ')} do not exist: create them (stats and lifecycle with 6 partitions, the DLQ with 3) or set KAFKA_TOPIC_*`);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Metrics of a committed chunk. */
function observeCommitted(metrics: Metrics, topic: string, items: Item[], rejected: Item[], res: WriteResult, seconds: { total: number; dlq: number }): void {
  metrics.batchDuration.observe({ topic, phase: 'copy' }, res.seconds.copy);
  metrics.batchDuration.observe({ topic, phase: 'commit' }, res.seconds.commit);
  if (rejected.length > 0) metrics.batchDuration.observe({ topic, phase: 'dlq' }, seconds.dlq);
  metrics.batchDuration.observe({ topic, phase: 'total' }, seconds.total);
  metrics.batchSize.observe({ topic }, items.length);
  metrics.rowsWritten.inc({ table: 'metrics' }, res.rows.metrics);
  metrics.rowsWritten.inc({ table: 'events' }, res.rows.events);
  metrics.messagesConsumed.inc({ topic, outcome: 'stored' }, res.stored);
  const tombstones = items.filter((i) => i.tombstone).length;
  if (tombstones > 0) metrics.messagesConsumed.inc({ topic, outcome: 'tombstone' }, tombstones);
  for (const r of rejected) {
    metrics.dlqMessages.inc({ code: r.rejected!.code });
    metrics.messagesConsumed.inc({ topic, outcome: 'dlq' });
  }
  metrics.lastCommitTimestamp.set(Date.now() / 1000);
}

export async function startIngest(deps: IngestDeps): Promise<Ingest> {
  const { config, kafka, pool, logger, metrics } = deps;
  const topics = config.kafka.topics;
  const kindOf = (topic: string): TopicKind => (topic === topics.stats ? 'stats' : 'lifecycle');
  await checkTopicsExist(kafka, [topics.stats, topics.lifecycle, topics.dlq]);
  registerCodecs(config.batch.decompressedMaxBytes);
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: 3000,
    allowAutoTopicCreation: false,
    minBytes: 64 * 1024,
    maxWaitTimeInMs: Math.max(config.batch.maxWaitMs, 10),
    maxBytes: Math.max(config.batch.maxBytes, 1024 * 1024),
    maxBytesPerPartition: Math.max(Math.floor(config.batch.maxBytes / 2), 1024 * 1024),
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: RECONNECT_BACKOFF_MAX_MS },
  });

  let joined = false;
  let stopping = false;
  const stored = new Map<string, bigint>(); // "topic:partition" -> next offset stored in PostgreSQL
  const sought = new Set<string>();
  const backpressure = new Backpressure((paused) => metrics.paused.set(paused ? 1 : 0));
  const knownApps = new Set<string>();
  setInterval(() => knownApps.clear(), 60_000).unref();

  let lastContact = 0; // last GROUP_JOIN or answered heartbeat (Date.now())
  consumer.on(consumer.events.HEARTBEAT, () => {
    lastContact = Date.now();
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    lastContact = Date.now();
    stored.clear();
    sought.clear();
    metrics.consumerReady.set(1);
    logger.info({ groupId: e.payload.groupId, memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined the consumer group');
  });
  for (const ev of [consumer.events.CRASH, consumer.events.DISCONNECT, consumer.events.STOP]) {
    consumer.on(ev, () => {
      joined = false;
      metrics.consumerReady.set(0);
    });
  }
  consumer.on(consumer.events.REBALANCING, () => {
    joined = false;
    metrics.consumerReady.set(0);
  });

  const writer: WriterDeps = {
    pool,
    logger,
    metrics,
    workerId: config.workerId,
    knownApps,
    placeholderAppsMax: config.placeholderApps.max,
    sendDeadLetters: (letters) => sendToDlq(producer, { topic: topics.dlq, workerId: config.workerId, maxValueBytes: config.batch.dlqValueMaxBytes }, letters),
  };

  const limits = (kind: TopicKind): DecodeLimits => {
    const now = Date.now();
    const days = kind === 'stats' ? config.retention.metricsInstanceDays : config.retention.eventsDays;
    return { messageMaxBytes: config.batch.messageMaxBytes, minTsMs: now - days * DAY_MS, maxTsMs: now + config.timestampMaxFutureSkewMs };
  };

  /** Splits a fetched batch into chunks bounded by BATCH_MAX_MESSAGES and BATCH_MAX_BYTES. */
  function* chunksOf(messages: KafkaMessage[]): Generator<KafkaMessage[]> {
    let chunk: KafkaMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
      if (chunk.length > 0 && (chunk.length >= config.batch.maxMessages || bytes + size > config.batch.maxBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  type Outcome = { next: bigint } | 'seeked' | 'fenced' | 'stopped';

  async function processChunk(topic: string, partition: number, messages: KafkaMessage[], payload: EachBatchPayload): Promise<Outcome> {
    const key = `${topic}:${partition}`;
    const kind = kindOf(topic);
    const log = logger.child({ topic, partition });
    let from = stored.get(key);
    if (from === undefined) {
      from = await loadStoredOffset(pool, topic, partition, messages[0]!.offset, config.workerId);
      stored.set(key, from);
    }
    // Kafka ahead of PostgreSQL (e.g. a database restored from backup): go back once to what is stored.
    const first = BigInt(messages[0]!.offset);
    if (first > from && !sought.has(key)) {
      sought.add(key);
      log.warn({ storedOffset: from.toString(), fetchedOffset: first.toString() }, 'fetched past the stored offset: seeking back');
      consumer.seek({ topic, partition, offset: from.toString() });
      return 'seeked';
    }
    sought.add(key);
    const fresh = messages.filter((m) => BigInt(m.offset) >= from);
    const duplicates = messages.length - fresh.length;
    if (duplicates > 0) metrics.messagesConsumed.inc({ topic, outcome: 'duplicate' }, duplicates);
    if (fresh.length === 0) return { next: from };
    const to = BigInt(fresh[fresh.length - 1]!.offset) + 1n;

    const t0 = performance.now();
    const items = fresh.map((m) => decodeMessage(kind, m, limits(kind)));
    let waiting = false;
    const giveUp = (): 'stopped' => {
      if (waiting) backpressure.leave();
      waiting = false;
      return 'stopped';
    };
    metrics.batchDuration.observe({ topic, phase: 'decode' }, (performance.now() - t0) / 1000);

    for (let attempt = 0; ; attempt++) {
      try {
        const rejected = items.filter((i) => i.rejected);
        const t0d = performance.now();
        await writer.sendDeadLetters(rejected.map((i) => deadLetterOf(topic, partition, i)));
        const dlqSeconds = (performance.now() - t0d) / 1000;
        const res = await writeChunk(writer, kind, topic, partition, items, from, to);
        observeCommitted(metrics, topic, items, rejected, res, { total: (performance.now() - t0) / 1000, dlq: dlqSeconds });
        if (attempt > 0) log.info({ attempts: attempt + 1 }, 'PostgreSQL is back: resuming');
        giveUp();
        log.debug({ from: from.toString(), to: to.toString(), rows: res.rows, dlq: res.deadLettered }, 'batch committed');
        stored.set(key, to);
        return { next: to };
      } catch (err) {
        const decision = retryDecision(err, attempt, config.dbRetryMaxBackoffMs);
        if (decision.kind === 'fenced') {
          metrics.fenced.inc({ topic });
          log.warn({ err: errorMessage(err) }, 'lost the partition to another worker: rolled back');
          stored.delete(key);
          giveUp();
          return 'fenced';
        }
        if (decision.forgetPartitions) partitionsOf(pool).forget();
        // Blocking here is the backpressure: this partition fetches nothing more until the
        // batch is stored, so memory stays bounded while PostgreSQL is away.
        if (!waiting) backpressure.enter();
        waiting = true;
        metrics.dbRetries.inc({ topic });
        log.error({ err: errorMessage(err), retryable: decision.retryable, attempt: attempt + 1, backoffMs: decision.backoffMs, offsets: `${from}-${to - 1n}` }, 'batch failed: pausing and retrying');
        if (!(await waitOut(payload, decision.backoffMs))) return giveUp();
        // The stored offset may have moved meanwhile (another worker): re-read before retrying.
        stored.delete(key);
        const current: bigint = await loadStoredOffset(pool, topic, partition, from.toString(), config.workerId).catch(() => from);
        if (current !== from) {
          metrics.fenced.inc({ topic });
          giveUp();
          return 'fenced';
        }
      }
    }
  }

  /** Sleeps `ms` while heart-beating; false when the partition should be given up (stopping, rebalancing). */
  async function waitOut(payload: EachBatchPayload, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (stopping || !payload.isRunning() || payload.isStale()) return false;
      await sleep(Math.min(1000, until - Date.now()));
      try {
        await payload.heartbeat();
      } catch {
        return false; // rebalancing: give the partition back, nothing was committed
      }
    }
    return true;
  }

  await consumer.connect();
  await consumer.subscribe({ topics: [topics.stats, topics.lifecycle], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: config.batch.partitionsConcurrency,
    eachBatch: async (payload) => {
      const { batch } = payload;
      const { topic, partition } = batch;
      // Kafka's committed offset follows PostgreSQL's, once per fetched batch (it only saves
      // re-reading after a restart, so it need not cost a round trip per chunk).
      let next: bigint | undefined;
      try {
        for (const chunk of chunksOf(batch.messages)) {
          if (stopping || !payload.isRunning() || payload.isStale()) return;
          const outcome = await processChunk(topic, partition, chunk, payload);
          if (outcome === 'stopped' || outcome === 'seeked') return;
          if (outcome === 'fenced') {
            next = undefined;
            const key = `${topic}:${partition}`;
            const current = await loadStoredOffset(pool, topic, partition, '0', config.workerId).catch(() => undefined);
            if (current !== undefined) {
              stored.set(key, current);
              try {
                consumer.seek({ topic, partition, offset: current.toString() });
              } catch {
                // no longer assigned here: the new owner starts from the stored offset
              }
            }
            return;
          }
          payload.resolveOffset(chunk[chunk.length - 1]!.offset);
          next = outcome.next;
          faultAfterDbCommit();
          try {
            await payload.heartbeat();
          } catch {
            return;
          }
        }
      } finally {
        if (next !== undefined) {
          try {
            await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
          } catch (err) {
            // PostgreSQL's stored offset decides; a lost Kafka commit only means re-reading.
            logger.warn({ topic, partition, err: errorMessage(err) }, 'Kafka offset commit failed (harmless: PostgreSQL holds the stored offset)');
          }
        }
      }
    },
  });

  return {
    consumer,
    producer,
    problem() {
      if (!joined) return 'the consumer has not joined its group';
      const silentMs = Date.now() - lastContact;
      if (silentMs > config.kafka.sessionTimeoutMs) return `no heartbeat answered by the group coordinator for ${Math.round(silentMs / 1000)} s`;
      return undefined;
    },
    async stop() {
      stopping = true;
      await consumer.disconnect().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'consumer disconnect failed'));
      await producer.disconnect().catch(() => {});
      joined = false;
      metrics.consumerReady.set(0);
    },
  };
}
