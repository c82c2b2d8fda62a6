// Exporting one detached partition to its destination: the object (Parquet or gzip'd COPY text)
// streamed from a cursor / COPY TO inside one read transaction and hashed on the way out, then the
// manifest beside it. The object is complete under its final key or absent (see destination.ts).
import { pipeline, Transform, type Readable } from 'node:stream';
import type { Pool } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { withTransaction } from '../db/tx.ts';
import { IngestError } from '../errors.ts';
import { columnsOf } from './columns.ts';
import { copyGzipOf } from './copy-gzip.ts';
import type { Destination } from './destination.ts';
import { manifestKeyFor, objectKey, type Manifest } from './manifest.ts';
import { isoMicros, parquetOf } from './parquet-write.ts';
import { hashing } from './verify.ts';

export type ExportMeta = Pick<Manifest, 'partition' | 'parent' | 'level' | 'day' | 'generation' | 'encoding'>;

/** Test-only fault points inside an export: 'during-upload' (the first bytes are on their way), 'after-upload'. */
export type ExportFault = (point: 'during-upload' | 'after-upload') => void;

async function timeRange(pool: Pool, table: string): Promise<{ n: number; min: string | null; max: string | null }> {
  const { rows } = await pool.query<{ n: number; min: string | null; max: string | null }>(
    `SELECT count(*)::int AS n, (extract(epoch FROM min(timestamp)) * 1000000)::int8::text AS min, (extract(epoch FROM max(timestamp)) * 1000000)::int8::text AS max FROM ${quoteIdent(table)}`,
  );
  return rows[0]!;
}

/** Writes `table` and its manifest to `dest`; returns the manifest. */
export async function exportPartition(pool: Pool, dest: Destination, table: string, meta: ExportMeta, fault: ExportFault = () => {}): Promise<Manifest> {
  const cols = await columnsOf(pool, table);
  if (cols.length === 0) throw new IngestError('E_ARCHIVE_CORRUPT', `table ${table} to archive does not exist`);
  const key = objectKey(meta, meta.encoding);
  const h = hashing();
  const interrupt = new Transform({
    transform(chunk: Buffer, _e, cb) {
      try {
        fault('during-upload');
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  // The callback form returns the last stream and destroys all of them on any error, so the upload sees it.
  const body = (src: Readable) => pipeline(src, interrupt, h.tee, () => {});
  const stats = await withTransaction(pool, async (c) => {
    await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    if (meta.encoding === 'parquet') {
      const out = await parquetOf(c, table, cols);
      await dest.put(key, body(out.stream));
      return { n: out.stats.rows, min: out.stats.minTimeUs?.toString() ?? null, max: out.stats.maxTimeUs?.toString() ?? null };
    }
    const range = await timeRange(pool, table);
    await dest.put(key, body(copyGzipOf(c, table, cols)));
    return range;
  });
  fault('after-upload');
  const { rows: v } = await pool.query<{ v: number }>('SELECT max(id)::int AS v FROM orchestry_migrations');
  const manifest: Manifest = {
    format: 'orchestry-archive/2',
    encoding: meta.encoding,
    partition: meta.partition,
    parent: meta.parent,
    level: meta.level,
    day: meta.day,
    generation: meta.generation,
    object: key.split('/').pop()!,
    rows: stats.n,
    minTime: stats.min === null ? null : isoMicros(BigInt(stats.min)),
    maxTime: stats.max === null ? null : isoMicros(BigInt(stats.max)),
    sha256: h.digest(),
    schemaVersion: v[0]!.v,
    columns: cols.map((c) => ({ name: c.name, type: c.pgType })),
    createdAt: new Date().toISOString(),
  };
  await dest.put(manifestKeyFor(key), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return manifest;
}
