// `archive restore URL|FILE`: loads an archived partition back, trusting nothing beside the object.
// Before a row is inserted: the manifest passes its schema and its columns are the live table's;
// the object's sha256 equals the manifest's and archive_ledger's (where the ledger knows the
// object); rows are loaded into a staging table and must number the manifest's count and lie
// inside its day (and level). Then they go into that day's partition only, in the same
// transaction: a refusal inserts nothing. The partition is marked restored (a table comment), so
// retention and archive leave it (src/partitions/catalog.ts) until an operator passes --include-restored.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { from as copyFrom } from 'pg-copy-streams';
import type { Pool, PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { withTransaction } from '../db/tx.ts';
import { IngestError } from '../errors.ts';
import { createDayPartition, dayRange, markRestored } from '../partitions/index.ts';
import { columnsOf } from './columns.ts';
import { getText, locate, type S3Settings } from './destination.ts';
import { manifestKeyFor, parseManifest, type Manifest } from './manifest.ts';
import { parquetCopyText } from './parquet-read.ts';
import { hashing } from './verify.ts';

const STAGE = 'orchestry_restore_stage';
const refuse = (msg: string) => new IngestError('E_ARCHIVE_REFUSED', msg);

/** The manifest's columns must be the live table's, in order (and of the same types, when it says). */
async function checkColumns(pool: Pool, m: Manifest, where: string): Promise<void> {
  const live = await columnsOf(pool, m.parent);
  const same = live.length === m.columns.length && live.every((c, i) => c.name === m.columns[i]!.name && (m.columns[i]!.type === '' || m.columns[i]!.type === c.pgType));
  if (!same) throw refuse(`${where}: manifest columns (${m.columns.map((c) => c.name).join(', ')}) are not those of ${m.parent} (${live.map((c) => c.name).join(', ')})`);
}

/** archive_ledger's sha256 for this object or this partition generation, when it has one. */
async function checkLedger(pool: Pool, m: Manifest, url: string, where: string): Promise<void> {
  const { rows } = await pool.query<{ sha256: string }>(
    `SELECT sha256 FROM archive_ledger WHERE sha256 IS NOT NULL AND (file = $1 OR (partition = $2 AND generation = $3))`,
    [url, m.partition, m.generation],
  );
  const other = rows.find((r) => r.sha256 !== m.sha256);
  if (other) throw refuse(`${where}: sha256 ${m.sha256.slice(0, 12)}… in the manifest is not archive_ledger's ${other.sha256.slice(0, 12)}… for ${m.partition} generation ${m.generation}`);
}

async function loadStage(c: PoolClient, m: Manifest, path: string, where: string): Promise<number> {
  await c.query(`CREATE TEMP TABLE ${STAGE} (LIKE ${quoteIdent(m.parent)}) ON COMMIT DROP`);
  const cols = m.columns.map((x) => quoteIdent(x.name)).join(', ');
  const sql = `COPY ${STAGE} (${cols}) FROM STDIN`;
  let sink;
  if (m.encoding === 'copy-gzip') {
    sink = c.query(copyFrom(sql));
    await pipeline(createReadStream(path), createGunzip(), sink);
  } else {
    const pq = await parquetCopyText(path);
    if (pq.columns.join(',') !== m.columns.map((x) => x.name).join(',')) throw refuse(`${where}: the Parquet columns (${pq.columns.join(', ')}) are not the manifest's`);
    sink = c.query(copyFrom(sql));
    await pipeline(Readable.from(pq.chunks), sink);
  }
  return Number(sink.rowCount ?? -1);
}

async function insertChecked(c: PoolClient, m: Manifest, loaded: number, where: string): Promise<void> {
  if (loaded !== m.rows) throw new IngestError('E_ARCHIVE_CORRUPT', `${where}: holds ${loaded} rows, the manifest says ${m.rows}; nothing inserted`);
  const { from, to } = dayRange(m.day);
  const inside = `timestamp >= $1 AND timestamp < $2${m.level ? ' AND aggregation_level = $3' : ''}`;
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${STAGE} WHERE NOT (${inside})`, m.level ? [from, to, m.level] : [from, to]);
  if (rows[0]!.n > 0) throw refuse(`${where}: ${rows[0]!.n} rows lie outside ${m.parent} ${m.day}${m.level ? ` level ${m.level}` : ''}; nothing inserted`);
  await createDayPartition(c, m.parent, m.day, m.level ? [m.level] : null);
  const cols = m.columns.map((x) => quoteIdent(x.name)).join(', ');
  await c.query(`INSERT INTO ${quoteIdent(m.partition)} (${cols}) SELECT ${cols} FROM ${STAGE}`);
  await markRestored(c, m.partition);
}

/** The object in a local file (S3 objects are downloaded to a temporary one), and the sha256 of those bytes. */
async function fetchObject(objectUrl: string, s3: S3Settings, tmp: string): Promise<{ path: string; sha256: string }> {
  const { destination, key } = locate(objectUrl, s3);
  const path = join(tmp, 'object');
  const h = hashing();
  await pipeline(await destination.get(key), h.tee, createWriteStream(path));
  return { path, sha256: h.digest() };
}

/** Restores the archived object at `objectUrl` (s3://…, file://… or a path); returns its manifest. */
export async function restoreArchive(pool: Pool, objectUrl: string, s3: S3Settings = { endpoint: undefined, region: 'us-east-1', accessKeyId: undefined, secretAccessKey: undefined, forcePathStyle: false }): Promise<Manifest> {
  const { destination, key } = locate(objectUrl, s3);
  const where = destination.urlOf(key);
  const text = await getText(destination, manifestKeyFor(key));
  if (text === undefined) throw new IngestError('E_ARCHIVE_MISSING', `${where}: its manifest ${destination.urlOf(manifestKeyFor(key))} is missing`);
  const m = parseManifest(text, where);
  await checkColumns(pool, m, where);
  await checkLedger(pool, m, where, where);
  const tmp = await mkdtemp(join(tmpdir(), 'orchestry-restore-'));
  try {
    const obj = await fetchObject(objectUrl, s3, tmp);
    if (obj.sha256 !== m.sha256) throw new IngestError('E_ARCHIVE_CORRUPT', `${where}: sha256 ${obj.sha256.slice(0, 12)}… is not the manifest's ${m.sha256.slice(0, 12)}… (tampered or truncated); nothing inserted`);
    // A large partition takes longer to load than DATABASE_STATEMENT_TIMEOUT_MS allows one statement.
    await withTransaction(pool, async (c) => {
      const loaded = await loadStage(c, m, obj.path, where).catch((err: unknown) => {
        if (err instanceof IngestError) throw err;
        throw new IngestError('E_ARCHIVE_CORRUPT', `${where}: unreadable (${(err as Error).message}); nothing inserted`, false, { cause: err });
      });
      await insertChecked(c, m, loaded, where);
    }, { statement_timeout: '0' });
    return m;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
