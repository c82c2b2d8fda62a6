// COPY ... FROM STDIN in text format through pg-copy-streams: the encoder and the one function
// that streams rows to PostgreSQL, respecting backpressure.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../db/pool.ts';

const SPECIAL = /[\\\t\n\r]/;

/** Escapes a value for COPY text format (backslash, tab, newline, carriage return). */
export function copyText(value: string): string {
  if (!SPECIAL.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') out += '\\\\';
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else out += c;
  }
  return out;
}

/** COPY's NULL marker. */
export const NULL = '\\N';

/** A field: null/undefined become \N, strings are escaped. */
export function field(value: string | null | undefined): string {
  return value === null || value === undefined ? NULL : copyText(value);
}

/**
 * Streams `chunks` (each a run of complete rows ending in \n) into `sql` (a COPY ... FROM STDIN
 * statement) on `client`; resolves with the number of rows PostgreSQL reports.
 */
export async function copyInto(client: PoolClient, sql: string, chunks: Iterable<string>): Promise<number> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(chunks, { objectMode: false }), stream);
  return Number(stream.rowCount ?? 0);
}
