// The write stage: one chunk of one topic-partition -> rows, in one transaction that also
// records its dead letters and advances the stored offset (compare-and-set). Days without a
// partition and unknown apps past the placeholder cap are dead-lettered first; a row PostgreSQL
// rejects never fails its chunk: the chunk is split until the message is isolated and dead-lettered.
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Pool } from '../../db/pool.ts';
import { withTransaction } from '../../db/tx.ts';
import { classifyDbError } from '../../db/errors.ts';
import { IngestError } from '../../errors.ts';
import { sliceChunk, type Chunk } from '../chunk/chunk.ts';
import type { DeadLetters } from '../dead-letters/dead-letters.ts';
import { advanceOffset, type Along } from '../offsets/store.ts';
import { dayOf, type Partitions } from '../../partitions/index.ts';
import { capPlaceholderApps, type KnownApps } from './placeholder-apps.ts';
import { writeStats, type RowsWritten } from './stats.ts';
import { writeLifecycle } from './lifecycle.ts';

export interface WriterDeps {
  pool: Pool;
  logger: Logger;
  metrics: Metrics;
  workerId: string;
  deadLetters: DeadLetters;
  partitions: Partitions;
  /** Applications known to exist (skips the placeholder check); shared by all partitions. */
  knownApps: KnownApps;
  /** PLACEHOLDER_APPS_MAX: unknown apps past it are dead-lettered, not made placeholders. */
  placeholderAppsMax: number;
  /**
   * INGEST_SYNCHRONOUS_COMMIT, the chunk transactions' synchronous_commit. `off` is safe for
   * exactly-once: a server crash can take back only whole transactions, each with the stored offset
   * it advanced, and the lane that finds its offset gone back re-reads those messages from Kafka.
   */
  synchronousCommit: Config['ingestSynchronousCommit'];
}

export interface WriteResult {
  rows: { metrics: number; events: number };
  /** Seconds spent sending dead letters, writing rows (COPY and statements) and committing, summed over transactions. */
  seconds: { dlq: number; copy: number; commit: number };
  stored: number;
  deadLettered: number;
}

/**
 * Writes `chunk`. Every rejected item (by the decoder, or here) is sent to the DLQ before the
 * transaction that passes its offset, recorded in it, and counted once it has committed.
 */
export async function writeChunk(deps: WriterDeps, chunk: Chunk): Promise<WriteResult> {
  const result: WriteResult = { rows: { metrics: 0, events: 0 }, seconds: { dlq: 0, copy: 0, commit: 0 }, stored: 0, deadLettered: 0 };
  await rejectUnavailableDays(deps, chunk);
  const cap = await capPlaceholderApps(deps.pool, chunk.items, deps.knownApps, deps.placeholderAppsMax);
  if (cap.placeholders !== undefined) deps.metrics.placeholderApps.set(cap.placeholders);
  if (cap.refused.length > 0) deps.metrics.placeholderAppsRefused.inc(cap.refused.length);
  const t0 = performance.now();
  await deps.deadLetters.send(chunk, chunk.items);
  result.seconds.dlq += (performance.now() - t0) / 1000;
  await writeRange(deps, chunk, result);
  return result;
}

/** Rejects the rows of days that cannot take rows (archived, detached, or impossible to make). */
async function rejectUnavailableDays(deps: WriterDeps, chunk: Chunk): Promise<void> {
  const parent = chunk.kind === 'stats' ? 'metrics' : 'events';
  const tsOf = (i: Chunk['items'][number]) => (i.rejected ? undefined : (i.stats ?? i.lifecycle)?.ts);
  const days = await deps.partitions.ensureDays(parent, chunk.items.flatMap((i) => tsOf(i)?.ms ?? []));
  if (days.size === 0) return;
  for (const i of chunk.items) {
    const ts = tsOf(i);
    if (!ts || !days.has(dayOf(ts.ms))) continue;
    i.rejected = { code: 'E_OUT_OF_RANGE', message: `ts: the ${parent} partition of ${dayOf(ts.ms)} was archived or cannot be made; the row has nowhere to go` };
  }
}

async function writeRange(deps: WriterDeps, chunk: Chunk, result: WriteResult): Promise<void> {
  try {
    await commitRange(deps, chunk, result);
  } catch (caught) {
    if (caught instanceof IngestError) throw caught; // ours (E_FENCED: the offset moved), not PostgreSQL's
    const err = classifyDbError(caught);
    if (err.retryable) throw err;
    const live = chunk.items.filter((i) => !i.rejected && !i.tombstone);
    if (live.length === 1) {
      const bad = live[0]!;
      bad.rejected = { code: 'E_DB_REJECTED', message: `PostgreSQL rejected the row (SQLSTATE ${err.sqlState}): ${err.message.slice(0, 500)}` };
      deps.logger.warn({ topic: chunk.topic, partition: chunk.partition, offset: bad.offset.toString(), sqlState: err.sqlState }, 'row rejected by PostgreSQL: dead-lettering the message');
      const t0 = performance.now();
      await deps.deadLetters.send(chunk, [bad]);
      result.seconds.dlq += (performance.now() - t0) / 1000;
      await writeRange(deps, chunk, result);
      return;
    }
    if (live.length === 0) throw err; // nothing left to blame: not a row error after all
    // Split at the middle live message; each half commits its own offset range, in order.
    const mid = chunk.items.indexOf(live[Math.floor(live.length / 2)]!);
    await writeRange(deps, sliceChunk(chunk, 0, mid), result);
    await writeRange(deps, sliceChunk(chunk, mid, chunk.items.length), result);
  }
}

/** One transaction: the chunk's rows, its dead letters and the offset compare-and-set. */
async function commitRange(deps: WriterDeps, chunk: Chunk, result: WriteResult): Promise<void> {
  const t0 = performance.now();
  let t1 = t0;
  const rows = await withTransaction(deps.pool, async (client) => {
    await deps.deadLetters.record(client, chunk);
    const written: RowsWritten & { along?: Along } = chunk.kind === 'stats' ? await writeStats(client, chunk.items, deps.knownApps) : await writeLifecycle(client, chunk.items);
    await advanceOffset(client, chunk.topic, chunk.partition, chunk.from, chunk.to, deps.workerId, written.along);
    t1 = performance.now();
    return written;
  }, { synchronous_commit: deps.synchronousCommit });
  result.seconds.copy += (t1 - t0) / 1000;
  result.seconds.commit += (performance.now() - t1) / 1000;
  result.rows.metrics += rows.metrics;
  result.rows.events += rows.events;
  result.stored += chunk.items.filter((i) => !i.rejected && !i.tombstone).length;
  result.deadLettered += deps.deadLetters.count(chunk);
  for (const app of new Set(chunk.items.map((i) => i.stats?.app))) if (app !== undefined) deps.knownApps.add(app);
}
