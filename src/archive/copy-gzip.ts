// The archive format used before Parquet, still written with ARCHIVE_FORMAT=copy-gzip and always
// restorable: the partition as COPY text format, gzip-compressed, streamed from COPY TO STDOUT.
import { PassThrough, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { to as copyTo } from 'pg-copy-streams';
import type { PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import type { ArchiveColumn } from './columns.ts';

/** The gzip'd COPY text of `table` (columns in `cols` order), streamed from `client`. */
export function copyGzipOf(client: PoolClient, table: string, cols: ArchiveColumn[]): Readable {
  const source = client.query(copyTo(`COPY (SELECT ${cols.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table)}) TO STDOUT`));
  const out = new PassThrough();
  source.on('error', (err) => out.destroy(err));
  return source.pipe(createGzip()).on('error', (err) => out.destroy(err)).pipe(out);
}
