// Archiving one partition, step by step under archive_ledger (started → detached → exported →
// verified → dropped), so a crashed or failed run is resumed by the next one: event days are
// summarised first, the partition is detached (CONCURRENTLY), exported to the destination with
// its manifest, read back FROM THE DESTINATION and checked (sha256 and rows against the ledger and
// the detached table), and only then dropped. An object already uploaded whole is kept; a
// half-uploaded one never exists under its key (see destination.ts). An empty partition is
// dropped without an object. Used by the archive job and by retention with ARCHIVE_BEFORE_DROP.
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import type { Logger } from '../log.ts';
import { detachPartition, dropTable, parsePartitionName, type ArchiveTarget } from '../partitions/index.ts';
import { destinationFor, getText, type Destination } from './destination.ts';
import { summariseEventsDay } from './event-summaries.ts';
import { exportPartition } from './export.ts';
import { manifestKeyFor, objectKey, parseManifest, type Manifest } from './manifest.ts';
import { verifyObject } from './verify.ts';

/** What an archive run needs of its job: the pool, the archive settings, a logger, the run, fault points. */
export interface ArchiveContext {
  pool: Pool;
  config: Pick<Config, 'archive'>;
  logger: Logger;
  runId: number;
  /** Test-only fault injection: throws when a test asked to fail at `point`. */
  fault(point: string): void;
}

interface LedgerRow { partition: string; generation: number; state: string; file: string | null; rows: number | null; sha256: string | null }

async function setState(pool: Pool, t: { partition: string; generation: number }, state: string, extra: { file?: string; rows?: number; sha256?: string } = {}) {
  await pool.query(
    `UPDATE archive_ledger SET state = $3, file = coalesce($4, file), rows = coalesce($5, rows), sha256 = coalesce($6, sha256), updated_at = now()
      WHERE partition = $1 AND generation = $2`,
    [t.partition, t.generation, state, extra.file ?? null, extra.rows ?? null, extra.sha256 ?? null],
  );
}

async function ledgerRow(ctx: ArchiveContext, t: ArchiveTarget): Promise<LedgerRow> {
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

async function exportStep(ctx: ArchiveContext, dest: Destination, t: ArchiveTarget, led: LedgerRow): Promise<void> {
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
export async function archivePartition(ctx: ArchiveContext, t: ArchiveTarget): Promise<number> {
  const { pool } = ctx;
  const dest = destinationFor(ctx.config.archive.url, ctx.config.archive.s3);
  const led = await ledgerRow(ctx, t);
  let count = 0;
  if (led.state === 'started') {
    if (t.table === 'events') await summariseEventsDay(pool, t.day);
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

/** Archives archive_ledger has not finished (whatever their age), to be resumed first. */
export async function pendingTargets(pool: Pool): Promise<ArchiveTarget[]> {
  const { rows } = await pool.query<{ partition: string; parent: string; day: string }>(
    `SELECT partition, parent, to_char(day, 'YYYY-MM-DD') AS day FROM archive_ledger WHERE state <> 'dropped' ORDER BY partition`,
  );
  return rows.map((p) => {
    const name = parsePartitionName(p.partition);
    if (!name || name.parent === 'metric_rollups') throw new Error(`archive_ledger holds ${p.partition}, which is not a metrics leaf or an events day`);
    return { parent: p.parent, partition: p.partition, table: name.parent, level: name.level ?? null, day: p.day };
  });
}
