// Writes one chunk of one topic-partition: decoded records -> rows, in one transaction that also
// advances the stored offset (compare-and-set) and records dead letters. A row PostgreSQL rejects
// never fails its chunk: the chunk is split until the message is isolated and dead-lettered.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { errorMessage, isRowError, sqlState } from '../errors.ts';
import type { LifecycleMessage, StatsMessage } from './contract.ts';
import type { DeadLetter } from './dlq.ts';
import type { Rejection } from './decode.ts';
import { advanceOffset } from './offsets.ts';
import { ensureDayPartitions } from './partitions.ts';
import { ChunkBuilder, LIFECYCLE_STAGE_COPY, LIFECYCLE_STAGE_DDL, METRICS_COPY, addLifecycleRow, addMetricRows } from './rows.ts';
import { copyInto } from './copy.ts';
import { TouchedWindows } from './invalidations.ts';

export type TopicKind = 'stats' | 'lifecycle';

/** One consumed message after decoding. */
export interface Item {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: DeadLetter['headers'];
  stats?: StatsMessage;
  lifecycle?: LifecycleMessage;
  /** Set when the message is not stored: it goes (or went) to the DLQ. */
  rejected?: Rejection;
  tombstone?: boolean;
}

export interface WriterDeps {
  pool: Pool;
  logger: Logger;
  metrics: Metrics;
  workerId: string;
  /** Sends dead letters to the DLQ topic (acknowledged by the broker) before their offset passes. */
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  /** Applications known to exist (skips the placeholder check); shared by all partitions. */
  knownApps: Set<string>;
}

export interface WriteResult {
  rows: { metrics: number; events: number };
  /** Seconds spent writing rows (COPY and statements) and committing, summed over transactions. */
  seconds: { copy: number; commit: number };
  stored: number;
  deadLettered: number;
}

/**
 * Writes `items` (offsets [from, to) of `topic`/`partition`, in offset order). Items already
 * rejected by the decoder must have been sent to the DLQ by the caller.
 */
export async function writeChunk(deps: WriterDeps, kind: TopicKind, topic: string, partition: number, items: Item[], from: bigint, to: bigint): Promise<WriteResult> {
  const result: WriteResult = { rows: { metrics: 0, events: 0 }, seconds: { copy: 0, commit: 0 }, stored: 0, deadLettered: 0 };
  await ensureDayPartitions(deps.pool, kind === 'stats' ? 'metrics' : 'events', items.flatMap((i) => (i.stats ? [i.stats.ts.ms] : i.lifecycle ? [i.lifecycle.ts.ms] : [])));
  await writeRange(deps, kind, topic, partition, items, from, to, result);
  return result;
}

async function writeRange(deps: WriterDeps, kind: TopicKind, topic: string, partition: number, items: Item[], from: bigint, to: bigint, result: WriteResult): Promise<void> {
  try {
    const t0 = performance.now();
    let t1 = t0;
    const rows = await withTransaction(deps.pool, async (client) => {
      const written = kind === 'stats' ? await writeStats(client, deps, items) : await writeLifecycle(client, items);
      await recordDeadLetters(client, deps.workerId, topic, partition, items);
      await advanceOffset(client, topic, partition, from, to, deps.workerId);
      t1 = performance.now();
      return written;
    });
    result.seconds.copy += (t1 - t0) / 1000;
    result.seconds.commit += (performance.now() - t1) / 1000;
    result.rows.metrics += rows.metrics;
    result.rows.events += rows.events;
    result.stored += items.filter((i) => !i.rejected && !i.tombstone).length;
    result.deadLettered += items.filter((i) => i.rejected).length;
    for (const i of items) if (i.stats) deps.knownApps.add(i.stats.app);
  } catch (err) {
    if (!isRowError(err) || isMissingPartition(err)) throw err;
    const live = items.filter((i) => !i.rejected && !i.tombstone);
    if (live.length === 1) {
      const bad = live[0]!;
      bad.rejected = { code: 'E_DB_REJECTED', message: `PostgreSQL rejected the row (SQLSTATE ${sqlState(err)}): ${errorMessage(err).slice(0, 500)}` };
      deps.logger.warn({ topic, partition, offset: bad.offset.toString(), sqlState: sqlState(err) }, 'row rejected by PostgreSQL: dead-lettering the message');
      await deps.sendDeadLetters([deadLetterOf(topic, partition, bad)]);
      deps.metrics.dlqMessages.inc({ code: 'E_DB_REJECTED' });
      deps.metrics.messagesConsumed.inc({ topic, outcome: 'dlq' });
      await writeRange(deps, kind, topic, partition, items, from, to, result);
      return;
    }
    if (live.length === 0) throw err; // nothing left to blame: not a row error after all
    // Split at the middle live message; each half commits its own offset range, in order.
    const mid = items.indexOf(live[Math.floor(live.length / 2)]!);
    const midOffset = items[mid]!.offset;
    await writeRange(deps, kind, topic, partition, items.slice(0, mid), from, midOffset, result);
    await writeRange(deps, kind, topic, partition, items.slice(mid), midOffset, to, result);
  }
}

function isMissingPartition(err: unknown): boolean {
  return sqlState(err) === '23514' && /no partition of relation/.test(errorMessage(err));
}

export function deadLetterOf(topic: string, partition: number, item: Item): DeadLetter {
  return { topic, partition, offset: item.offset.toString(), key: item.key, value: item.value, headers: item.headers, error: item.rejected! };
}

async function recordDeadLetters(client: PoolClient, workerId: string, topic: string, partition: number, items: Item[]): Promise<void> {
  const dead = items.filter((i) => i.rejected);
  if (dead.length === 0) return;
  await client.query(
    `INSERT INTO ingest_dead_letters (topic, partition, "offset", error_code, error_message, worker_id)
     SELECT $1, $2, o, c, m, $6 FROM unnest($3::bigint[], $4::text[], $5::text[]) AS d(o, c, m)
     ON CONFLICT (topic, partition, "offset") DO NOTHING`,
    [topic, partition, dead.map((i) => i.offset.toString()), dead.map((i) => i.rejected!.code), dead.map((i) => i.rejected!.message.replaceAll('\u0000', '\\u0000')), workerId],
  );
}

async function writeStats(client: PoolClient, deps: WriterDeps, items: Item[]): Promise<{ metrics: number; events: number }> {
  const out = new ChunkBuilder();
  const touched = new TouchedWindows();
  const apps = new Set<string>();
  // The newest sample per container updates its instances row (newer wins; equal ts: later offset).
  // Only unindexed columns change (not updated_at, which tracks lifecycle changes): HOT updates.
  const latest = new Map<string, StatsMessage>();
  for (const i of items) {
    const m = i.stats;
    if (!m || i.rejected) continue;
    addMetricRows(out, m);
    touched.add(m);
    apps.add(m.app);
    if (m.cpu_percent !== undefined || m.memory_percent !== undefined || m.memory_bytes !== undefined) {
      const prev = latest.get(m.container_id);
      if (!prev || prev.ts.ms <= m.ts.ms) latest.set(m.container_id, m);
    }
  }
  const unknown = [...apps].filter((a) => !deps.knownApps.has(a));
  let events = 0;
  if (unknown.length > 0) {
    const res = await client.query('SELECT orchestry_ensure_apps($1::text[], NOW())', [unknown.sort()]);
    events += res.rowCount ?? 0;
  }
  const metrics = out.rows > 0 ? await copyInto(client, METRICS_COPY, out.done()) : 0;
  if (latest.size > 0) {
    const rows = [...latest.values()].sort((a, b) => (a.container_id < b.container_id ? -1 : 1));
    await client.query(
      `UPDATE instances i SET
         cpu_percent = coalesce(s.cpu, i.cpu_percent),
         memory_percent = coalesce(s.mem, i.memory_percent),
         memory_usage_bytes = coalesce(s.bytes, i.memory_usage_bytes),
         stats_at = s.ts
       FROM unnest($1::text[], $2::timestamptz[], $3::real[], $4::real[], $5::bigint[]) AS s(container_id, ts, cpu, mem, bytes)
       WHERE i.container_id = s.container_id AND (i.stats_at IS NULL OR i.stats_at <= s.ts)`,
      [
        rows.map((m) => m.container_id),
        rows.map((m) => m.ts.iso),
        rows.map((m) => m.cpu_percent ?? null),
        rows.map((m) => m.memory_percent ?? null),
        rows.map((m) => (m.memory_bytes === undefined ? null : Math.round(m.memory_bytes).toString())),
      ],
    );
  }
  // Late rows: windows below the rollup watermark are logged for the rollups job (same transaction).
  await touched.log(client);
  return { metrics, events };
}

async function writeLifecycle(client: PoolClient, items: Item[]): Promise<{ metrics: number; events: number }> {
  const out = new ChunkBuilder();
  for (const i of items) if (i.lifecycle && !i.rejected) addLifecycleRow(out, i.offset.toString(), i.lifecycle);
  if (out.rows === 0) return { metrics: 0, events: 0 };
  await client.query(LIFECYCLE_STAGE_DDL);
  await copyInto(client, LIFECYCLE_STAGE_COPY, out.done());
  const { rows } = await client.query<{ n: number }>('SELECT orchestry_apply_lifecycle() AS n');
  return { metrics: 0, events: rows[0]?.n ?? 0 };
}
