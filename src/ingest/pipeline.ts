// The pipeline of one topic-partition, chunk by chunk: resume from the stored offset (skip what is
// stored, or ask the source to seek back), decode into a Chunk, write it under the retry policy,
// observe the batch metrics. Says what the source does next; knows nothing of kafkajs.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { errorMessage } from '../errors.ts';
import type { Chunk } from './chunk/chunk.ts';
import type { TopicKind } from './chunk/item.ts';
import { decodeChunk, type DecodeLimits } from './decode/decode.ts';
import type { OffsetCursor } from './offsets/cursor.ts';
import type { RetryHooks, RetryPolicy } from './retry/policy.ts';
import { holdFor, type Session } from './source/session.ts';
import { writeChunk, type WriteResult, type WriterDeps } from './write/writer.ts';

export type Outcome =
  /** The chunk is stored (or was already): the partition's stored offset is `next`. */
  | { kind: 'committed'; next: bigint }
  /** Kafka fetched past the stored offset: seek the partition to `offset`. */
  | { kind: 'seek'; offset: bigint }
  /** Another worker owns the partition now: nothing was committed. */
  | { kind: 'fenced' }
  /** The partition was given up while waiting (stopping, rebalancing): nothing was committed. */
  | { kind: 'stopped' };

type Consumed = Parameters<typeof decodeChunk>[2][number];

export interface PipelineDeps {
  logger: Logger;
  metrics: Metrics;
  kindOf(topic: string): TopicKind;
  limits(kind: TopicKind): DecodeLimits;
  cursor: OffsetCursor;
  retry: RetryPolicy;
  writer: WriterDeps;
}

export class Pipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /** Takes one run of fetched `messages` (in offset order) of `topic`/`partition` through the stages. */
  async process(topic: string, partition: number, messages: Consumed[], session: Session): Promise<Outcome> {
    const { cursor, metrics } = this.deps;
    const log = this.deps.logger.child({ topic, partition });
    const resume = await cursor.resume(topic, partition, messages);
    if (resume.kind === 'seek') {
      log.warn({ storedOffset: resume.offset.toString(), fetchedOffset: resume.fetched.toString() }, 'fetched past the stored offset: seeking back');
      return { kind: 'seek', offset: resume.offset };
    }
    if (resume.duplicates > 0) metrics.messagesConsumed.inc({ topic, outcome: 'duplicate' }, resume.duplicates);
    if (resume.fresh.length === 0) return { kind: 'committed', next: resume.from };

    const t0 = performance.now();
    const kind = this.deps.kindOf(topic);
    const chunk = decodeChunk({ kind, topic, partition }, resume.from, resume.fresh, this.deps.limits(kind));
    metrics.batchDuration.observe({ topic, phase: 'decode' }, (performance.now() - t0) / 1000);

    const outcome = await this.deps.retry.run(() => writeChunk(this.deps.writer, chunk), this.hooks(chunk, session, log));
    if (outcome.kind === 'stopped') return outcome;
    if (outcome.kind === 'fenced') {
      metrics.fenced.inc({ topic });
      if (outcome.err !== undefined) log.warn({ err: errorMessage(outcome.err) }, 'lost the partition to another worker: rolled back');
      cursor.drop(topic, partition);
      return { kind: 'fenced' };
    }
    const res = outcome.value;
    this.observeCommitted(chunk, res, (performance.now() - t0) / 1000);
    if (outcome.attempts > 1) log.info({ attempts: outcome.attempts }, 'PostgreSQL is back: resuming');
    log.debug({ from: chunk.from.toString(), to: chunk.to.toString(), rows: res.rows, dlq: res.deadLettered }, 'batch committed');
    cursor.advanced(topic, partition, chunk.to);
    return { kind: 'committed', next: chunk.to };
  }

  /** After a fence: where the partition's stored offset now stands (undefined when unreadable). */
  recover(topic: string, partition: number): Promise<bigint | undefined> {
    return this.deps.cursor.recover(topic, partition);
  }

  private hooks(chunk: Chunk, session: Session, log: Logger): RetryHooks {
    const { topic, partition } = chunk;
    return {
      // Blocking here is the backpressure: this partition fetches nothing more until the chunk is
      // stored, so memory stays bounded while PostgreSQL is away.
      wait: (ms) => holdFor(session, ms),
      stillOwned: () => this.deps.cursor.stillAt(topic, partition, chunk.from),
      forgetPartitions: () => this.deps.writer.partitions.forget(),
      failed: (err, attempt, d) => {
        // The server may have restarted, and with INGEST_SYNCHRONOUS_COMMIT=off a crash takes back the
        // last transactions, placeholder apps included: the apps known to exist are checked again.
        this.deps.writer.knownApps.clear();
        this.deps.metrics.dbRetries.inc({ topic });
        log.error({ err: errorMessage(err), retryable: d.retryable, attempt: attempt + 1, backoffMs: d.backoffMs, offsets: `${chunk.from}-${chunk.to - 1n}` }, 'batch failed: pausing and retrying');
      },
    };
  }

  /** Metrics of a committed chunk (its dead letters were counted by the DeadLetters service). */
  private observeCommitted(chunk: Chunk, res: WriteResult, totalSeconds: number): void {
    const { metrics } = this.deps;
    const { topic, items } = chunk;
    metrics.batchDuration.observe({ topic, phase: 'copy' }, res.seconds.copy);
    metrics.batchDuration.observe({ topic, phase: 'commit' }, res.seconds.commit);
    if (res.deadLettered > 0) metrics.batchDuration.observe({ topic, phase: 'dlq' }, res.seconds.dlq);
    metrics.batchDuration.observe({ topic, phase: 'total' }, totalSeconds);
    metrics.batchSize.observe({ topic }, items.length);
    metrics.rowsWritten.inc({ table: 'metrics' }, res.rows.metrics);
    metrics.rowsWritten.inc({ table: 'events' }, res.rows.events);
    metrics.messagesConsumed.inc({ topic, outcome: 'stored' }, res.stored);
    const tombstones = items.filter((i) => i.tombstone).length;
    if (tombstones > 0) metrics.messagesConsumed.inc({ topic, outcome: 'tombstone' }, tombstones);
    metrics.lastCommitTimestamp.set(Date.now() / 1000);
  }
}
