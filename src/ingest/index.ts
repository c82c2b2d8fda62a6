// Ingestion, wired: source (kafkajs) -> pipeline (resume, decode, write under the retry policy)
// -> commit, with the services the stages share: dead letters, day partitions, known apps, the
// cursor of stored offsets and the backpressure gauge. The one place that picks implementations.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool } from '../db/pool.ts';
import type { Consumer, Kafka, Producer } from '../kafka/client.ts';
import { registerCodecs } from '../kafka/codecs.ts';
import { DeadLetters } from './dead-letters/dead-letters.ts';
import { decodeLimits } from './decode/limits.ts';
import { OffsetCursor } from './offsets/cursor.ts';
import { FlushWatch } from './offsets/flushed.ts';
import { DayPartitions } from '../partitions/index.ts';
import { Pipeline } from './pipeline.ts';
import { Backpressure, RetryPolicy } from './retry/policy.ts';
import { checkTopicsExist, connectProducer, startSource } from './source/consumer.ts';
import { KnownApps } from './write/placeholder-apps.ts';
import type { WriterDeps } from './write/writer.ts';

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

export async function startIngest(deps: IngestDeps): Promise<Ingest> {
  const { config, kafka, pool, logger, metrics } = deps;
  const topics = config.kafka.topics;
  await checkTopicsExist(kafka, [topics.stats, topics.lifecycle, topics.dlq]);
  registerCodecs(config.batch.decompressedMaxBytes);
  const producer = await connectProducer(kafka);
  const knownApps = new KnownApps();
  const writer: WriterDeps = {
    pool,
    logger,
    metrics,
    workerId: config.workerId,
    deadLetters: DeadLetters.toTopic(producer, { topic: topics.dlq, workerId: config.workerId, maxValueBytes: config.batch.dlqValueMaxBytes }, metrics),
    partitions: new DayPartitions(pool),
    knownApps,
    placeholderAppsMax: config.placeholderApps.max,
    synchronousCommit: config.ingestSynchronousCommit,
  };
  const cursor = new OffsetCursor(pool, config.workerId);
  const pipeline = new Pipeline({
    logger,
    metrics,
    kindOf: (topic) => (topic === topics.stats ? 'stats' : 'lifecycle'),
    limits: (kind) => decodeLimits(config, kind),
    cursor,
    retry: new RetryPolicy(config.dbRetryMaxBackoffMs, new Backpressure((paused) => metrics.paused.set(paused ? 1 : 0))),
    writer,
  });
  const flush = new FlushWatch(pool, config.ingestSynchronousCommit === 'off');
  const source = await startSource({ config, kafka, logger, metrics, pipeline, flushed: () => flush.flushed(), onJoin: () => cursor.reset() }).catch(async (err: unknown) => {
    await producer.disconnect().catch(() => {});
    throw err;
  });
  return {
    consumer: source.consumer,
    producer,
    problem: () => source.problem(),
    async stop() {
      await source.stop();
      await producer.disconnect().catch(() => {});
      knownApps.clear();
    },
  };
}
