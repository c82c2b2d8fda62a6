// Reading an archived object back from its destination: its sha256 and its row count (Parquet:
// the footer's, COPY text: one line a row), streamed, so the check costs no memory. An object
// whose bytes or rows differ from what was recorded is refused with E_ARCHIVE_CORRUPT.
import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parquetMetadata } from 'hyparquet';
import { IngestError } from '../errors.ts';
import type { Destination } from './destination.ts';
import type { Manifest } from './manifest.ts';

/** Hashes what passes through. */
export function hashing(): { tee: Transform; digest: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let n = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
  });
  return { tee, digest: () => hash.digest('hex'), bytes: () => n };
}

const MAGIC = Buffer.from('PAR1');

/** The row count in a Parquet footer, given the object's last bytes (at least the footer and its 8-byte trailer). */
export function parquetFooterRows(tail: Buffer): number {
  if (tail.length < 12 || !tail.subarray(-4).equals(MAGIC)) throw new Error('no Parquet footer (truncated?)');
  const len = tail.readUInt32LE(tail.length - 8);
  if (len + 8 > tail.length) throw new Error('Parquet footer longer than the bytes kept');
  // hyparquet parses the footer alone (parquet-wasm's reader also wants the page indexes before it).
  const footer = tail.subarray(tail.length - 8 - len);
  return Number(parquetMetadata(footer.buffer.slice(footer.byteOffset, footer.byteOffset + footer.length) as ArrayBuffer).num_rows);
}

const TAIL_BYTES = 4 * 1024 * 1024;

/** Streams `body` once: sha256, and rows counted the way `encoding` stores them. */
export async function readBack(body: Readable, encoding: Manifest['encoding']): Promise<{ sha256: string; rows: number; bytes: number }> {
  const h = hashing();
  if (encoding === 'copy-gzip') {
    let rows = 0;
    const counter = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
        cb();
      },
    });
    await pipeline(body, h.tee, createGunzip(), counter);
    return { sha256: h.digest(), rows, bytes: h.bytes() };
  }
  let tail = Buffer.alloc(0);
  const keepTail = new Writable({
    write(chunk: Buffer, _e, cb) {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > 2 * TAIL_BYTES) tail = Buffer.from(tail.subarray(tail.length - TAIL_BYTES));
      cb();
    },
  });
  await pipeline(body, h.tee, keepTail);
  return { sha256: h.digest(), rows: parquetFooterRows(tail), bytes: h.bytes() };
}

/** Reads `key` back from `dest` and throws E_ARCHIVE_CORRUPT unless its sha256 and rows are the expected ones. */
export async function verifyObject(dest: Destination, key: string, expect: { sha256: string; rows: number; encoding: Manifest['encoding'] }): Promise<void> {
  const url = dest.urlOf(key);
  const got = await readBack(await dest.get(key), expect.encoding).catch((err: unknown) => {
    if (err instanceof IngestError) throw err;
    throw new IngestError('E_ARCHIVE_CORRUPT', `${url}: unreadable (${(err as Error).message})`, false, { cause: err });
  });
  if (got.sha256 !== expect.sha256 || got.rows !== expect.rows) {
    throw new IngestError('E_ARCHIVE_CORRUPT', `${url}: read back ${got.rows} rows sha256 ${got.sha256.slice(0, 12)}…, expected ${expect.rows} rows sha256 ${expect.sha256.slice(0, 12)}…`);
  }
}
