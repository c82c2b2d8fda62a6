// The one module that wraps kafkajs (no longer maintained): the rest of the project imports Kafka from here.
import { readFileSync } from 'node:fs';
import kafkajs, { type KafkaConfig, type SASLOptions } from 'kafkajs';
import { registerCodecs } from './codecs.ts';
import { kafkaLogCreator, type KafkaLogger } from './logs.ts';

export type { KafkaLogger };

export type {
  Admin,
  Batch,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  EachMessagePayload,
  IHeaders,
  ITopicConfig,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
  ProducerConfig,
  RecordMetadata,
  TopicMessages,
} from 'kafkajs';
export const { CompressionTypes, logLevel, KafkaJSError, Partitioners } = kafkajs;
export type CompressionTypes = kafkajs.CompressionTypes;
export type logLevel = kafkajs.logLevel;

/** What a client is made from: the brokers and the KAFKA_* connection settings (not the group or topics). */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  ssl: { enabled: boolean; caFile: string | undefined; rejectUnauthorized: boolean };
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
}

/** Longest wait between reconnect attempts: the worker is back within this of a broker's return (Java clients use 1 s). */
export const RECONNECT_BACKOFF_MAX_MS = 5000;

/**
 * A kafkajs client from the configuration: SSL with an optional CA file, SASL, retries (8 by default,
 * fewer where a caller wants a quick verdict), logs routed or silenced.
 */
export function createKafka(cfg: KafkaOptions, logger?: KafkaLogger, opts: { retries?: number } = {}): kafkajs.Kafka {
  registerCodecs();
  const config: KafkaConfig = {
    clientId: cfg.clientId,
    brokers: cfg.brokers,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, maxRetryTime: RECONNECT_BACKOFF_MAX_MS, retries: opts.retries ?? 8 },
    logLevel: logger ? kafkajs.logLevel.INFO : kafkajs.logLevel.NOTHING,
    ...(logger ? { logCreator: kafkaLogCreator(logger) } : {}),
  };
  if (cfg.ssl.enabled) {
    config.ssl = {
      rejectUnauthorized: cfg.ssl.rejectUnauthorized,
      ...(cfg.ssl.caFile ? { ca: [readFileSync(cfg.ssl.caFile, 'utf8')] } : {}),
    };
  }
  if (cfg.sasl) config.sasl = { ...cfg.sasl } as SASLOptions;
  return new kafkajs.Kafka(config);
}

/** A plaintext client for the local stack and tests. */
export function createLocalKafka(brokers: string[], clientId = 'orchestry-local', logger?: KafkaLogger): kafkajs.Kafka {
  return createKafka(
    { brokers, clientId, ssl: { enabled: false, caFile: undefined, rejectUnauthorized: true }, sasl: undefined },
    logger,
  );
}
