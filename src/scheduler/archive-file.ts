// Archive files: a partition as COPY text format, gzip-compressed, with a JSON manifest beside it
// (<name>.copy.gz + <name>.manifest.json). Written to a temporary name and renamed, so a file
// with its final name is always complete; verified by reading it back; restorable.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Pool } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { withClient, withTransaction } from '../db/tx.ts';
import { IngestError } from '../errors.ts';

export interface Manifest {
  format: 'orchestry-archive/1';
  partition: string;
  parent: 'metrics' | 'events';
  level: 'instance' | 'app' | null;
  day: string;
  generation: number;
  file: string;
  rows: number;
  minTime: string | null;
  maxTime: string | null;
  sha256: string;
  schemaVersion: number;
  columns: string[];
  createdAt: string;
}

export const archivePaths = (dir: string, partition: string, generation: number) => {
  const stem = generation > 1 ? `${partition}.g${generation}` : partition;
  return { file: join(dir, `${stem}.copy.gz`), manifest: join(dir, `${stem}.manifest.json`) };
};

export const manifestPathFor = (file: string) => join(dirname(file), `${basename(file).replace(/\.copy\.gz$/, '')}.manifest.json`);

const exists = (p: string) => stat(p).then(() => true, () => false);

async function columnsOf(pool: Pool, table: string): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    'SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
    [quoteIdent(table)],
  );
  return rows.map((r) => r.name);
}

/** Exports `table` to `file` (+ manifest); returns the manifest. */
export async function exportTable(pool: Pool, table: string, file: string, meta: Pick<Manifest, 'partition' | 'parent' | 'level' | 'day' | 'generation'>): Promise<Manifest> {
  await mkdir(dirname(file), { recursive: true });
  const columns = await columnsOf(pool, table);
  if (columns.length === 0) throw new IngestError('E_ARCHIVE_CORRUPT', `table ${table} to archive does not exist`);
  const { rows: st } = await pool.query<{ n: number; min: Date | null; max: Date | null; v: number }>(
    `SELECT count(*) AS n, min(timestamp) AS min, max(timestamp) AS max, (SELECT max(id) FROM orchestry_migrations) AS v FROM ${quoteIdent(table)}`,
  );
  const hash = createHash('sha256');
  const tmp = `${file}.tmp`;
  await withClient(pool, async (client) => {
    const cols = columns.map(quoteIdent).join(', ');
    const source = client.query(copyTo(`COPY (SELECT ${cols} FROM ${quoteIdent(table)}) TO STDOUT`));
    const tee = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
    await pipeline(source, createGzip(), tee, createWriteStream(tmp));
  });
  await rename(tmp, file);
  const s = st[0]!;
  const manifest: Manifest = {
    format: 'orchestry-archive/1',
    ...meta,
    file: basename(file),
    rows: s.n,
    minTime: s.min?.toISOString() ?? null,
    maxTime: s.max?.toISOString() ?? null,
    sha256: hash.digest('hex'),
    schemaVersion: s.v,
    columns,
    createdAt: new Date().toISOString(),
  };
  const mpath = manifestPathFor(file);
  await writeFile(`${mpath}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${mpath}.tmp`, mpath);
  return manifest;
}

export async function readManifest(file: string): Promise<Manifest | undefined> {
  const p = manifestPathFor(file);
  if (!(await exists(p)) || !(await exists(file))) return undefined;
  return JSON.parse(await readFile(p, 'utf8')) as Manifest;
}

/** Reads `file` back: its sha256 and its row count (COPY text: one line per row). */
export async function readBack(file: string): Promise<{ sha256: string; rows: number }> {
  const hash = createHash('sha256');
  let rows = 0;
  const tee = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
  const counter = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
      cb();
    },
  });
  await pipeline(createReadStream(file), tee, createGunzip(), counter);
  return { sha256: hash.digest('hex'), rows };
}

/** Throws E_ARCHIVE_CORRUPT unless the file matches its manifest. */
export async function verifyArchive(file: string, m: Manifest): Promise<void> {
  const got = await readBack(file).catch((err: unknown) => {
    throw new IngestError('E_ARCHIVE_CORRUPT', `${file}: unreadable (${(err as Error).message})`, false, { cause: err });
  });
  if (got.sha256 !== m.sha256 || got.rows !== m.rows) {
    throw new IngestError('E_ARCHIVE_CORRUPT', `${file}: read back ${got.rows} rows sha256 ${got.sha256.slice(0, 12)}, manifest says ${m.rows} rows sha256 ${m.sha256.slice(0, 12)}`);
  }
}

/**
 * Loads an archive back into its table (its day partition is made again when missing), in one
 * transaction: the file is checked against its manifest first, and the loaded row count after.
 */
export async function restoreArchive(pool: Pool, file: string): Promise<Manifest> {
  const m = await readManifest(file);
  if (!m) throw new IngestError('E_ARCHIVE_CORRUPT', `${file}: archive file or its manifest (${manifestPathFor(file)}) not found`);
  await verifyArchive(file, m);
  await withTransaction(pool, async (c) => {
    await c.query('SELECT orchestry_ensure_day_partition($1, $2::date, $3::text[])', [m.parent, m.day, m.level ? [m.level] : null]);
    const cols = m.columns.map(quoteIdent).join(', ');
    const sink = c.query(copyFrom(`COPY ${quoteIdent(m.parent)} (${cols}) FROM STDIN`));
    await pipeline(createReadStream(file), createGunzip(), new PassThrough(), sink);
    const loaded = Number(sink.rowCount ?? -1);
    if (loaded !== m.rows) {
      throw new IngestError('E_ARCHIVE_CORRUPT', `${file}: loaded ${loaded} rows, manifest says ${m.rows}; rolled back`);
    }
  });
  return m;
}
