// The source: the only stage that speaks kafkajs. Both contract topics in one group; each fetched
// batch is queued on its partition's lane (lanes.ts), which hands it to the pipeline chunk by chunk;
// pause/resume and seeks, the group state for readiness, and Kafka's committed offset, which
// follows PostgreSQL's (ingest_offsets), never leads.
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { IngestError, errorMessage } from '../../errors.ts';
import { RECONNECT_BACKOFF_MAX_MS, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from '../../kafka/client.ts';
import type { Pipeline } from '../pipeline.ts';
import { Lanes, type LaneControl } from './lanes.ts';

/** Fails start-up with one clear message when a contract topic is missing (auto-creation is off). */
export async function checkTopicsExist(kafka: Kafka, names: string[]): Promise<void> {
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

/** The producer of dead letters: idempotent, one request in flight, never creating topics. */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

export interface SourceDeps {
  config: Config;
  kafka: Kafka;
  logger: Logger;
  metrics: Metrics;
  pipeline: Pick<Pipeline, 'process' | 'recover'>;
  /** Resolves once every chunk committed so far is on disk (Kafka's offset never leads a durable one). */
  flushed(): Promise<void>;
  /** Called on each group join (a new generation: cached stored offsets are stale). */
  onJoin(): void;
}

export interface Source {
  consumer: Consumer;
  /** Why the consumer cannot take work now, or undefined when it can (see Ingest.problem). */
  problem(): string | undefined;
  stop(): Promise<void>;
}

function createConsumer(kafka: Kafka, config: Config): Consumer {
  return kafka.consumer({
    groupId: config.kafka.groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: 3000,
    allowAutoTopicCreation: false,
    minBytes: config.batch.fetchMinBytes,
    maxWaitTimeInMs: Math.max(config.batch.maxWaitMs, 10),
    maxBytes: Math.max(config.batch.maxBytes, 1024 * 1024),
    maxBytesPerPartition: Math.max(Math.floor(config.batch.maxBytes / 2), 1024 * 1024),
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: RECONNECT_BACKOFF_MAX_MS },
  });
}

/** Group membership as readiness sees it: joined, and the last GROUP_JOIN or answered heartbeat. */
function watchGroup(consumer: Consumer, deps: SourceDeps): { joined: () => boolean; lastContact: () => number; left: () => void } {
  const { metrics, logger } = deps;
  let joined = false;
  let lastContact = 0; // Date.now()
  const left = () => {
    joined = false;
    metrics.consumerReady.set(0);
  };
  consumer.on(consumer.events.HEARTBEAT, () => {
    lastContact = Date.now();
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    lastContact = Date.now();
    deps.onJoin();
    metrics.consumerReady.set(1);
    logger.info({ groupId: e.payload.groupId, memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined the consumer group');
  });
  for (const ev of [consumer.events.CRASH, consumer.events.DISCONNECT, consumer.events.STOP, consumer.events.REBALANCING]) consumer.on(ev, left);
  return { joined: () => joined, lastContact: () => lastContact, left };
}

/** The lanes' hold on kafkajs: pause/resume a partition's fetching, seek it, commit Kafka's offset after PostgreSQL's. */
function laneControl(consumer: Consumer, flushed: () => Promise<void>): LaneControl {
  return {
    pause: (topic, partition) => consumer.pause([{ topic, partitions: [partition] }]),
    resume: (topic, partition) => consumer.resume([{ topic, partitions: [partition] }]),
    seek(topic, partition, offset) {
      try {
        consumer.seek({ topic, partition, offset: offset.toString() });
      } catch {
        // no longer assigned here: the new owner starts from the stored offset
      }
    },
    async commit(topic, partition, next) {
      await flushed(); // stored and on disk: an asynchronous commit may not be yet
      await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
    },
  };
}

/** One fetched batch: queued on its partition's lane, and kafkajs's fetch position moved past it. */
function queueBatch(lanes: Lanes<KafkaMessage>, payload: EachBatchPayload, stopping: () => boolean): void {
  const { batch } = payload;
  if (stopping() || !payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
  lanes.enqueue(batch.topic, batch.partition, batch.messages);
  payload.resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
}

/** Joins the group on both contract topics and runs the pipeline on every fetched batch. */
export async function startSource(deps: SourceDeps): Promise<Source> {
  const { config, kafka, logger } = deps;
  const topics = config.kafka.topics;
  const consumer = createConsumer(kafka, config);
  const group = watchGroup(consumer, deps);
  let stopping = false;
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.stats, topics.lifecycle], fromBeginning: true });
  const lanes = new Lanes<KafkaMessage>({
    limits: config.batch,
    slots: config.batch.partitionsConcurrency,
    pipeline: deps.pipeline,
    control: laneControl(consumer, deps.flushed),
    logger,
    onQueued: (n) => deps.metrics.queuedMessages.set(n),
  });
  // A new generation fetches again from Kafka's committed offsets: what is queued is dropped.
  consumer.on(consumer.events.REBALANCING, () => lanes.clear());
  consumer.on(consumer.events.GROUP_JOIN, () => lanes.clear());
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => queueBatch(lanes, payload, () => stopping),
  });
  return {
    consumer,
    problem() {
      if (!group.joined()) return 'the consumer has not joined its group';
      const silentMs = Date.now() - group.lastContact();
      if (silentMs > config.kafka.sessionTimeoutMs) return `no heartbeat answered by the group coordinator for ${Math.round(silentMs / 1000)} s`;
      return undefined;
    },
    async stop() {
      stopping = true;
      await lanes.stop();
      await consumer.disconnect().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'consumer disconnect failed'));
      group.left();
    },
  };
}
