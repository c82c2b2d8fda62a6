// A partition as one Parquet object, streamed: a server-side cursor fetches FETCH_ROWS rows at a
// time, each fetch becomes an Arrow record batch, and parquet-wasm's streaming writer turns the
// batches into Parquet bytes (zstd, a row group every ROW_GROUP_ROWS rows). Only a fetch and the
// row group being encoded are in memory, never the partition.
import { Readable } from 'node:stream';
import { Table, tableToIPC } from 'apache-arrow';
import * as pq from 'parquet-wasm';
import type { PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';
import { toRecordBatch } from './arrow-batch.ts';
import { arrowSchema, selectExpr, type ArchiveColumn } from './columns.ts';

const FETCH_ROWS = 20_000;
/** Rows per row group: large enough for scans to skip by statistics, small enough to encode in ~50 MB. */
export const ROW_GROUP_ROWS = 250_000;

export interface WriteStats {
  rows: number;
  /** Epoch microseconds of the first timestamptz column, null when there are no rows. */
  minTimeUs: bigint | null;
  maxTimeUs: bigint | null;
}

function writerProperties(): pq.WriterProperties {
  return new pq.WriterPropertiesBuilder().setCompression(pq.Compression.ZSTD).setMaxRowGroupSize(ROW_GROUP_ROWS).build();
}

/**
 * The Parquet bytes of `table`, read through a cursor on `client`, which must be inside a transaction
 * for the stream's whole life.
 */
export async function parquetOf(client: PoolClient, table: string, cols: ArchiveColumn[]): Promise<{ stream: Readable; stats: WriteStats }> {
  const schema = arrowSchema(cols);
  const stats: WriteStats = { rows: 0, minTimeUs: null, maxTimeUs: null };
  const ts = cols.findIndex((c) => c.kind === 'timestamp');
  await client.query(`DECLARE orchestry_archive_cursor NO SCROLL CURSOR FOR SELECT ${cols.map(selectExpr).join(', ')} FROM ${quoteIdent(table)}`);
  const fetch = () => {
    const p = client.query<unknown[]>({ text: `FETCH ${FETCH_ROWS} FROM orchestry_archive_cursor`, rowMode: 'array' });
    p.catch(() => {}); // awaited by pull(); a failure after the stream was cancelled must not go unhandled
    return p;
  };
  // The next fetch runs in PostgreSQL while this one is encoded.
  let next = fetch();
  const input = new ReadableStream({
    async pull(controller) {
      const { rows } = await next;
      if (rows.length > 0) next = fetch();
      if (rows.length === 0) {
        await client.query('CLOSE orchestry_archive_cursor');
        controller.close();
        return;
      }
      stats.rows += rows.length;
      if (ts >= 0) {
        for (const r of rows) {
          const t = BigInt(r[ts] as string);
          if (stats.minTimeUs === null || t < stats.minTimeUs) stats.minTimeUs = t;
          if (stats.maxTimeUs === null || t > stats.maxTimeUs) stats.maxTimeUs = t;
        }
      }
      const ipc = tableToIPC(new Table(toRecordBatch(schema, cols, rows)), 'stream');
      const wasmTable = pq.Table.fromIPCStream(ipc);
      const batch = wasmTable.recordBatch(0);
      wasmTable.free();
      controller.enqueue(batch);
    },
  });
  const out = await pq.transformParquetStream(input, writerProperties());
  return { stream: Readable.fromWeb(out as import('node:stream/web').ReadableStream<Uint8Array>), stats };
}

/** Microseconds since the epoch as an ISO 8601 instant with all six fraction digits. */
export function isoMicros(us: bigint): string {
  const ms = us >= 0n ? us / 1000n : -((-us + 999n) / 1000n);
  const rest = us - ms * 1000n;
  return `${new Date(Number(ms)).toISOString().slice(0, -1)}${String(rest).padStart(3, '0')}Z`;
}
