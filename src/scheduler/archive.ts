// Job `archive`: partitions older than a cutoff are detached (CONCURRENTLY), exported with COPY TO
// into gzip files under ARCHIVE_DIR (one per partition + manifest), verified by reading the file
// back, then dropped. The archive_ledger records each step, so a crashed run is resumed by the
// next one: a partition whose file was written is verified and dropped, never exported twice.
// Units: metrics leaves (metrics_pYYYYMMDD_instance / _app) and events day partitions. Event days
// are summarised into events_compressed first. An empty partition is dropped without a file.
// Cutoff: `older_than` (e.g. '14d') for every table, or, when not given, each table's retention
// (a safety net behind `retention`, and what `retention` does itself with ARCHIVE_BEFORE_DROP).
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Pool } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { IngestError } from '../errors.ts';
import { archivePaths, exportTable, readManifest, verifyArchive } from './archive-file.ts';
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

interface LedgerRow { partition: string; generation: number; parent: string; day: string; state: string }

async function setState(pool: Pool, t: { partition: string; generation: number }, state: string, extra: { file?: string; rows?: number; sha256?: string } = {}) {
  await pool.query(
    `UPDATE archive_ledger SET state = $3, file = coalesce($4, file), rows = coalesce($5, rows), sha256 = coalesce($6, sha256), updated_at = now()
      WHERE partition = $1 AND generation = $2`,
    [t.partition, t.generation, state, extra.file ?? null, extra.rows ?? null, extra.sha256 ?? null],
  );
}

/** Archives one partition, resuming from the ledger; returns the rows archived. */
export async function archivePartition(ctx: JobContext, t: ArchiveTarget): Promise<number> {
  const { pool } = ctx;
  const dir = resolve(ctx.config.archiveDir);
  let { rows } = await pool.query<LedgerRow>(
    `SELECT partition, generation, parent, to_char(day, 'YYYY-MM-DD') AS day, state FROM archive_ledger WHERE partition = $1 AND state <> 'dropped'`,
    [t.partition],
  );
  if (rows.length === 0) {
    ({ rows } = await pool.query<LedgerRow>(
      `INSERT INTO archive_ledger (partition, generation, parent, day, state, run_id)
       SELECT $1, coalesce(max(generation), 0) + 1, $2, $3::date, 'started', $4 FROM archive_ledger WHERE partition = $1
       RETURNING partition, generation, parent, to_char(day, 'YYYY-MM-DD') AS day, state`,
      [t.partition, t.parent, t.day, ctx.runId],
    ));
  }
  const led = rows[0]!;
  const paths = archivePaths(dir, t.partition, led.generation);
  const log = ctx.logger.child({ partition: t.partition, generation: led.generation });
  let count = 0;
  if (led.state === 'started') {
    if (t.table === 'events') {
      await compressEvents(pool, new Date(`${t.day}T00:00:00Z`), new Date(Date.parse(`${t.day}T00:00:00Z`) + 86_400_000));
    }
    await detachPartition(pool, led.parent, t.partition);
    await setState(pool, led, (led.state = 'detached'));
  }
  if (led.state === 'detached') {
    const { rows: n } = await pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(t.partition)}`);
    if (n[0]?.n === 0) {
      // Nothing to keep: no file, the ledger alone records that the partition went.
      await setState(pool, led, (led.state = 'verified'), { rows: 0 });
    }
  }
  if (led.state === 'detached') {
    // A crash after the file was written but before the ledger said so: keep that file when it is
    // whole and holds exactly the table's rows.
    let m = await readManifest(paths.file);
    if (m) {
      const ok = await verifyArchive(paths.file, m).then(() => true, () => false);
      const { rows: n } = await pool.query<{ n: number }>(`SELECT count(*) AS n FROM ${quoteIdent(t.partition)}`);
      if (!ok || n[0]?.n !== m.rows) m = undefined;
    }
    m ??= await exportTable(pool, t.partition, paths.file, { partition: t.partition, parent: t.table, level: t.level, day: t.day, generation: led.generation });
    log.info({ file: paths.file, rows: m.rows }, 'partition exported');
    await setState(pool, led, (led.state = 'exported'), { file: paths.file, rows: m.rows, sha256: m.sha256 });
    ctx.fault('archive:after-export');
    ctx.fault(`archive:after-export:${t.partition}`);
  }
  if (led.state === 'exported') {
    const m = await readManifest(paths.file);
    if (!m) throw new IngestError('E_ARCHIVE_CORRUPT', `${paths.file}: exported archive is missing; the partition is kept (detached)`);
    await verifyArchive(paths.file, m);
    count = m.rows;
    await setState(pool, led, (led.state = 'verified'));
  }
  if (led.state === 'verified') {
    await dropTable(pool, t.partition);
    await setState(pool, led, (led.state = 'dropped'));
    log.info('archived partition dropped');
  }
  return count;
}

/** Partitions of metrics (leaves) and events whose day is entirely older than their cutoff. */
export async function archiveTargets(pool: Pool, cutoffDays: { instance: number; app: number; events: number }): Promise<ArchiveTarget[]> {
  const { now } = await dbToday(pool);
  const out: ArchiveTarget[] = [];
  for (const dayPart of await listChildren(pool, 'metrics')) {
    if (!dayPart.day || !dayPart.partitioned) continue;
    for (const leaf of await listChildren(pool, dayPart.name)) {
      if (leaf.level && dayExpired(dayPart.day, now, cutoffDays[leaf.level])) {
        out.push({ parent: dayPart.name, partition: leaf.name, table: 'metrics', level: leaf.level, day: dayPart.day });
      }
    }
  }
  for (const p of await listChildren(pool, 'events')) {
    if (p.day && dayExpired(p.day, now, cutoffDays.events)) out.push({ parent: 'events', partition: p.name, table: 'events', level: null, day: p.day });
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

export const archiveJob = defineJob({
  name: 'archive',
  description: 'detach, export (COPY to gzip + manifest under ARCHIVE_DIR), verify and drop partitions older than a cutoff',
  params: z.strictObject({ older_than: duration.optional() }),
  async run(ctx, params) {
    const r = ctx.config.retention;
    const days = params.older_than !== undefined ? params.older_than / 86_400_000 : undefined;
    const cutoff = { instance: days ?? r.metricsInstanceDays, app: days ?? r.metricsAppDays, events: days ?? r.eventsDays };
    // Unfinished archives first (whatever their age), then everything past the cutoff.
    const { rows: pending } = await ctx.pool.query<{ partition: string; parent: string; day: string }>(
      `SELECT partition, parent, to_char(day, 'YYYY-MM-DD') AS day FROM archive_ledger WHERE state <> 'dropped' ORDER BY partition`,
    );
    const targets: ArchiveTarget[] = pending.map((p) => ({
      parent: p.parent,
      partition: p.partition,
      table: p.partition.startsWith('events_') ? 'events' : 'metrics',
      level: p.partition.endsWith('_instance') ? 'instance' : p.partition.endsWith('_app') ? 'app' : null,
      day: p.day,
    }));
    for (const t of await archiveTargets(ctx.pool, cutoff)) if (!targets.some((x) => x.partition === t.partition)) targets.push(t);
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
