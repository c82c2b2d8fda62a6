// Job `archive`: partitions older than a cutoff are detached (CONCURRENTLY), exported to
// ARCHIVE_URL (file:// or s3://; Parquet in a Hive layout, or gzip'd COPY text) with a manifest
// beside each object, read back FROM THE DESTINATION and checked (sha256 and rows against the
// ledger and the detached table), and only then dropped. archive_ledger records each step, so a
// crashed or failed run is resumed by the next one: an object already uploaded whole is kept, a
// half-uploaded one never exists under its key (see src/archive/destination.ts), nothing is lost.
// Units: metrics leaves (metrics_pYYYYMMDD_instance / _app) and events day partitions. Event days
// are summarised into events_compressed first. An empty partition is dropped without an object.
// A partition restored by `archive restore` is left alone unless include_restored is given.
import { z } from 'zod';
import { destinationFor, type Destination } from '../archive/destination.ts';
import { exportPartition } from '../archive/export.ts';
import { getText } from '../archive/destination.ts';
import { manifestKeyFor, objectKey, parseManifest, type Manifest } from '../archive/manifest.ts';
import { RESTORED_MARK } from '../archive/restore.ts';
import { verifyObject } from '../archive/verify.ts';
import type { Pool } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { compressEvents } from './compress-events.ts';
import { dayExpired, dbToday, detachAndDrop, detachPartition, dropTable, listChildren } from './ddl.ts';
import { checkAborted, defineJob, duration, type JobContext } from './job.ts';

export interface ArchiveTarget {
  /** The table the partition hangs from: events, or the metrics day partition for a leaf. */
  parent: string;
  partition: string;
  table: 'metrics' | 'events';
  level: 'instance' | 'app' | null;
  day: string;
}

interface LedgerRow { partition: string; generation: number; state: string; file: string | null; rows: number | null; sha256: string | null }

async function setState(pool: Pool, t: { partition: string; generation: number }, state: string, extra: { file?: string; rows?: number; sha256?: string } = {}) {
  await pool.query(
    `UPDATE archive_ledger SET state = $3, file = coalesce($4, file), rows = coalesce($5, rows), sha256 = coalesce($6, sha256), updated_at = now()
      WHERE partition = $1 AND generation = $2`,
    [t.partition, t.generation, state, extra.file ?? null, extra.rows ?? null, extra.sha256 ?? null],
  );
}

async function ledgerRow(ctx: JobContext, t: ArchiveTarget): Promise<LedgerRow> {
  const cols = 'partition, generation, state, file, rows::int AS rows, sha256';
  const { rows } = await ctx.pool.query<LedgerRow>(`SELECT ${cols} FROM archive_ledger WHERE partition = $1 AND state <> 'dropped'`, [t.partition]);
  if (rows[0]) return rows[0];
  const { rows: made } = await ctx.pool.query<LedgerRow>(
    `INSERT INTO archive_ledger (partition, generation, parent, day, state, run_id)
     SELECT $1, coalesce(max(generation), 0) + 1, $2, $3::date, 'started', $4 FROM archive_ledger WHERE partition = $1
     RETURNING ${cols}`,
    [t.partition, t.parent, t.day, ctx.runId],
  );
  return made[0]!;
}

const countRows = async (pool: Pool, table: string) =>
  (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoteIdent(table)}`)).rows[0]!.n;

/** The object a crash left behind after its upload (manifest and object whole, every row in it), if any. */
async function uploadedWhole(dest: Destination, key: string, rows: number): Promise<Manifest | undefined> {
  const text = await getText(dest, manifestKeyFor(key));
  if (text === undefined) return undefined;
  const m = parseManifest(text, dest.urlOf(key));
  if (m.rows !== rows) return undefined;
  const ok = await verifyObject(dest, key, m).then(() => true, () => false);
  return ok ? m : undefined;
}

async function exportStep(ctx: JobContext, dest: Destination, t: ArchiveTarget, led: LedgerRow): Promise<void> {
  const encoding = ctx.config.archive.format;
  const key = objectKey({ ...t, parent: t.table, generation: led.generation }, encoding);
  const rows = await countRows(ctx.pool, t.partition);
  const m = (await uploadedWhole(dest, key, rows)) ??
    (await exportPartition(ctx.pool, dest, t.partition, { partition: t.partition, parent: t.table, level: t.level, day: t.day, generation: led.generation, encoding },
      (point) => ctx.fault(`archive:${point}`)));
  ctx.logger.info({ partition: t.partition, object: dest.urlOf(key), rows: m.rows }, 'partition exported');
  await setState(ctx.pool, led, (led.state = 'exported'), { file: dest.urlOf(key), rows: m.rows, sha256: m.sha256 });
  Object.assign(led, { file: dest.urlOf(key), rows: m.rows, sha256: m.sha256 });
  ctx.fault('archive:after-export');
  ctx.fault(`archive:after-export:${t.partition}`);
}

/** Archives one partition, resuming from the ledger; returns the rows archived. */
export async function archivePartition(ctx: JobContext, t: ArchiveTarget): Promise<number> {
  const { pool } = ctx;
  const dest = destinationFor(ctx.config.archive.url, ctx.config.archive.s3);
  const led = await ledgerRow(ctx, t);
  let count = 0;
  if (led.state === 'started') {
    if (t.table === 'events') {
      await compressEvents(pool, new Date(`${t.day}T00:00:00Z`), new Date(Date.parse(`${t.day}T00:00:00Z`) + 86_400_000));
    }
    await detachPartition(pool, t.parent, t.partition);
    await setState(pool, led, (led.state = 'detached'));
  }
  // Nothing to keep: no object, the ledger alone records that the partition went.
  if (led.state === 'detached' && (await countRows(pool, t.partition)) === 0) await setState(pool, led, (led.state = 'verified'), { rows: 0 });
  if (led.state === 'detached') await exportStep(ctx, dest, t, led);
  if (led.state === 'exported') {
    // Read back from the destination, against the ledger's sha256 and the detached table's rows.
    const encoding = led.file!.endsWith('.parquet') ? 'parquet' : 'copy-gzip';
    const key = objectKey({ ...t, parent: t.table, generation: led.generation }, encoding);
    const rows = await countRows(pool, t.partition);
    if (rows !== led.rows) throw new Error(`${t.partition}: holds ${rows} rows, the ledger recorded ${led.rows}; kept (detached)`);
    await verifyObject(dest, key, { sha256: led.sha256!, rows, encoding });
    count = rows;
    await setState(pool, led, (led.state = 'verified'));
    ctx.fault('archive:after-verify');
  }
  if (led.state === 'verified') {
    await dropTable(pool, t.partition);
    await setState(pool, led, (led.state = 'dropped'));
    ctx.logger.info({ partition: t.partition, generation: led.generation }, 'archived partition dropped');
  }
  return count;
}

/** Tables an operator restored (`archive restore` marks them), which retention and archive leave alone. */
export async function restoredTables(pool: Pool): Promise<Set<string>> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind = 'r' AND obj_description(oid, 'pg_class') = $1`,
    [RESTORED_MARK],
  );
  return new Set(rows.map((r) => r.name));
}

/** Partitions of metrics (leaves) and events whose day is entirely older than their cutoff (restored ones only when asked). */
export async function archiveTargets(pool: Pool, cutoffDays: { instance: number; app: number; events: number }, includeRestored = false): Promise<ArchiveTarget[]> {
  const { now } = await dbToday(pool);
  const skip = includeRestored ? new Set<string>() : await restoredTables(pool);
  const out: ArchiveTarget[] = [];
  for (const dayPart of await listChildren(pool, 'metrics')) {
    if (!dayPart.day || !dayPart.partitioned) continue;
    for (const leaf of await listChildren(pool, dayPart.name)) {
      if (leaf.level && !skip.has(leaf.name) && dayExpired(dayPart.day, now, cutoffDays[leaf.level])) {
        out.push({ parent: dayPart.name, partition: leaf.name, table: 'metrics', level: leaf.level, day: dayPart.day });
      }
    }
  }
  for (const p of await listChildren(pool, 'events')) {
    if (p.day && !skip.has(p.name) && dayExpired(p.day, now, cutoffDays.events)) out.push({ parent: 'events', partition: p.name, table: 'events', level: null, day: p.day });
  }
  return out;
}

/** Drops metrics day partitions left without leaves. */
export async function dropEmptyMetricDays(pool: Pool): Promise<number> {
  let n = 0;
  for (const d of await listChildren(pool, 'metrics')) {
    if (d.partitioned && (await listChildren(pool, d.name)).length === 0) {
      await detachAndDrop(pool, 'metrics', d.name);
      n++;
    }
  }
  return n;
}

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const DAY_MS = 86_400_000;

/** The archive job's parameters: `older_than` has a floor of one day unless `force` is given. */
export const archiveParams = z
  .strictObject({ older_than: duration.optional(), force: flag.optional(), include_restored: flag.optional() })
  .refine((p) => p.older_than === undefined || p.older_than >= DAY_MS || p.force === true, {
    message: 'must be at least 1d (a shorter cutoff archives and drops today\'s data); pass force to go lower',
    path: ['older_than'],
  });

async function pendingTargets(pool: Pool): Promise<ArchiveTarget[]> {
  const { rows } = await pool.query<{ partition: string; parent: string; day: string }>(
    `SELECT partition, parent, to_char(day, 'YYYY-MM-DD') AS day FROM archive_ledger WHERE state <> 'dropped' ORDER BY partition`,
  );
  return rows.map((p) => ({
    parent: p.parent,
    partition: p.partition,
    table: p.partition.startsWith('events_') ? 'events' : 'metrics',
    level: p.partition.endsWith('_instance') ? 'instance' : p.partition.endsWith('_app') ? 'app' : null,
    day: p.day,
  }));
}

export const archiveJob = defineJob({
  name: 'archive',
  description: 'detach, export (Parquet or COPY gzip + manifest to ARCHIVE_URL), read back and verify, then drop partitions older than a cutoff',
  params: archiveParams,
  async run(ctx, params) {
    const r = ctx.config.retention;
    const days = params.older_than !== undefined ? params.older_than / DAY_MS : undefined;
    const cutoff = { instance: days ?? r.metricsInstanceDays, app: days ?? r.metricsAppDays, events: days ?? r.eventsDays };
    // Unfinished archives first (whatever their age), then everything past the cutoff.
    const targets = await pendingTargets(ctx.pool);
    for (const t of await archiveTargets(ctx.pool, cutoff, params.include_restored === true)) if (!targets.some((x) => x.partition === t.partition)) targets.push(t);
    let rows = 0;
    for (const [i, t] of targets.entries()) {
      checkAborted(ctx.signal);
      rows += await archivePartition(ctx, t);
      ctx.progress({ partition: t.partition, done: i + 1, total: targets.length, rows });
    }
    const emptyDays = await dropEmptyMetricDays(ctx.pool);
    return { rowsAffected: rows, details: { partitions: targets.map((t) => t.partition), emptyDaysDropped: emptyDays } };
  },
});
