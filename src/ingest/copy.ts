// COPY ... FROM STDIN through pg-copy-streams: the text-format escaping, the binary-format tuple
// writer, and the one function that streams either to PostgreSQL, respecting backpressure.
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

/** What one COPY streams: text rows (each chunk a run of complete rows) or binary-format bytes. */
export type CopyChunk = string | Buffer;

/**
 * Streams `chunks` into `sql` (a COPY ... FROM STDIN statement, text or `(FORMAT binary)`) on
 * `client`; resolves with the number of rows PostgreSQL reports.
 */
export async function copyInto(client: PoolClient, sql: string, chunks: Iterable<CopyChunk>): Promise<number> {
  const stream = client.query(copyFrom(sql));
  await pipeline(Readable.from(chunks, { objectMode: false }), stream);
  return Number(stream.rowCount ?? 0);
}

const BINARY_CHUNK_BYTES = 256 * 1024;
/** The binary format's header: signature, flags (no OIDs), no header extension. */
const BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** µs from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z). */
const PG_EPOCH_US = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;

/**
 * Writes COPY binary format (header, tuples of length-prefixed fields, trailer) into buffers of
 * about 256 KB, so a large batch is never one huge allocation. A tuple is written in two steps:
 * `tuple(fields, bytes)` reserves its exact size, then one call per field in column order.
 */
export class BinaryChunkBuilder {
  readonly chunks: Buffer[] = [];
  rows = 0;
  private buf = Buffer.allocUnsafe(BINARY_CHUNK_BYTES);
  /** The integer and float words go through a DataView: V8 inlines its setters, where Buffer's write*BE check their arguments in JS first. */
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private pos = BINARY_HEADER.copy(this.buf, 0);

  /** Starts a tuple of `fields` fields whose field bytes (length words excluded) add up to `bytes`. */
  tuple(fields: number, bytes: number): void {
    this.reserve(2 + 4 * fields + bytes);
    this.view.setInt16(this.pos, fields);
    this.pos += 2;
    this.rows++;
  }

  /** A field of raw bytes (text and varchar in UTF-8, jsonb as version byte 1 + JSON text). */
  bytes(b: Buffer): void {
    this.view.setInt32(this.pos, b.length);
    this.buf.set(b, this.pos + 4); // TypedArray.set: a third of Buffer.copy's cost on fields this short
    this.pos += 4 + b.length;
  }

  /** float4: the REAL nearest the number (the server's text input rounds the decimal the same way). */
  float4(v: number): void {
    this.view.setInt32(this.pos, 4);
    this.view.setFloat32(this.pos + 4, v === 0 ? 0 : v); // -0 is stored as 0, as by text input
    this.pos += 8;
  }

  /** timestamptz from µs since the Unix epoch (an exact integer below 2^53). */
  timestampUs(us: number): void {
    const pg = us - PG_EPOCH_US;
    const hi = Math.floor(pg / TWO_32);
    this.view.setInt32(this.pos, 8);
    this.view.setInt32(this.pos + 4, hi);
    this.view.setUint32(this.pos + 8, pg - hi * TWO_32);
    this.pos += 12;
  }

  /** Ends the stream (trailer) and returns the chunks to pass to `copyInto`. */
  done(): Buffer[] {
    this.reserve(2);
    this.view.setInt16(this.pos, -1);
    this.pos += 2;
    this.flush(0);
    return this.chunks;
  }

  private reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.flush(n);
  }

  private flush(next: number): void {
    if (this.pos > 0) this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = next > 0 ? Buffer.allocUnsafe(Math.max(BINARY_CHUNK_BYTES, next)) : Buffer.alloc(0);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.pos = 0;
  }
}

/** Bytes of one field for `BinaryChunkBuilder.tuple`: float4 4, timestamptz 8. */
export const FLOAT4_BYTES = 4;
export const TIMESTAMPTZ_BYTES = 8;
