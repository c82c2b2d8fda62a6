// Writes one chunk of one topic-partition: decoded records -> rows, in one transaction that also
// advances the stored offset (compare-and-set) and records dead letters. A row PostgreSQL rejects
// never fails its chunk: the chunk is split until the message is isolated and dead-lettered.
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/tx.ts';
import { classifyDbError } from '../db/errors.ts';
import { IngestError } from '../errors.ts';
import type { StatsMessage } from './contract.ts';
import type { DeadLetter } from './dlq.ts';
import type { Item, TopicKind } from './item.ts';
import { advanceOffset } from './offsets.ts';
import { dayOf, partitionsOf } from '../partitions/index.ts';
import { capPlaceholderApps } from './placeholder-apps.ts';
import { ChunkBuilder, LIFECYCLE_STAGE_COPY, LIFECYCLE_STAGE_DDL, METRICS_COPY, addLifecycleRow, addMetricRows } from './rows.ts';
import { copyInto } from './copy.ts';
import { TouchedWindows } from './invalidations.ts';

export type { Item, TopicKind } from './item.ts';

export interface WriterDeps {
  pool: Pool;
  logger: Logger;
  metrics: Metrics;
  workerId: string;
  /** Sends dead letters to the DLQ topic (acknowledged by the broker) before their offset passes. */
  sendDeadLetters(letters: DeadLetter[]): Promise<void>;
  /** Applications known to exist (skips the placeholder check); shared by all partitions. */
  knownApps: Set<string>;
  /** PLACEHOLDER_APPS_MAX: unknown apps past it are dead-lettered, not made placeholders. */
  placeholderAppsMax: number;
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
  const parent = kind === 'stats' ? 'metrics' : 'events';
  const unavailable = await partitionsOf(deps.pool).ensureDays(parent, items.flatMap((i) => (i.rejected ? [] : i.stats ? [i.stats.ts.ms] : i.lifecycle ? [i.lifecycle.ts.ms] : [])));
  if (unavailable.size > 0) await rejectUnavailableDays(deps, topic, partition, items, parent, unavailable);
  const cap = await capPlaceholderApps(deps.pool, items, deps.knownApps, deps.placeholderAppsMax);
  if (cap.placeholders !== undefined) deps.metrics.placeholderApps.set(cap.placeholders);
  if (cap.refused.length > 0) deps.metrics.placeholderAppsRefused.inc(cap.refused.length);
  await deadLetter(deps, topic, partition, cap.refused);
  await writeRange(deps, kind, topic, partition, items, from, to, result);
  return result;
}

/** Dead-letters the rows of days that cannot take rows (archived, detached, or impossible to make). */
async function rejectUnavailableDays(deps: WriterDeps, topic: string, partition: number, items: Item[], parent: string, days: Set<string>): Promise<void> {
  const out: Item[] = [];
  for (const i of items) {
    const ts = i.rejected ? undefined : (i.stats ?? i.lifecycle)?.ts;
    if (!ts || !days.has(dayOf(ts.ms))) continue;
    i.rejected = { code: 'E_OUT_OF_RANGE', message: `ts: the ${parent} partition of ${dayOf(ts.ms)} was archived or cannot be made; the row has nowhere to go` };
    out.push(i);
  }
  await deadLetter(deps, topic, partition, out);
}

/** Sends dead letters found while writing (the decoder's are sent by the caller) and counts them. */
async function deadLetter(deps: WriterDeps, topic: string, partition: number, items: Item[]): Promise<void> {
  if (items.length === 0) return;
  await deps.sendDeadLetters(items.map((i) => deadLetterOf(topic, partition, i)));
  for (const i of items) {
    deps.metrics.dlqMessages.inc({ code: i.rejected!.code });
    deps.metrics.messagesConsumed.inc({ topic, outcome: 'dlq' });
  }
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
  } catch (caught) {
    if (caught instanceof IngestError) throw caught; // ours (E_FENCED: the offset moved), not PostgreSQL's
    const err = classifyDbError(caught);
    if (err.retryable) throw err;
    const live = items.filter((i) => !i.rejected && !i.tombstone);
    if (live.length === 1) {
      const bad = live[0]!;
      bad.rejected = { code: 'E_DB_REJECTED', message: `PostgreSQL rejected the row (SQLSTATE ${err.sqlState}): ${err.message.slice(0, 500)}` };
      deps.logger.warn({ topic, partition, offset: bad.offset.toString(), sqlState: err.sqlState }, 'row rejected by PostgreSQL: dead-lettering the message');
      await deadLetter(deps, topic, partition, [bad]);
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
