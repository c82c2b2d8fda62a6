// An archived Parquet file back as COPY text rows, for restore: parquet-wasm reads it batch by
// batch (never the whole file), each batch goes to Arrow JS by IPC, and each cell is written the
// way PostgreSQL's COPY text format reads it (timestamps with their microseconds, exactly).
import { openAsBlob } from 'node:fs';
import { tableFromIPC, Type, type Data } from 'apache-arrow';
import * as pq from 'parquet-wasm';
import { copyText, NULL } from '../ingest/copy.ts';
import { isoMicros } from './parquet-write.ts';

const BATCH_ROWS = 10_000;

function cell(d: Data, i: number): string {
  const at = d.offset + i;
  if (d.nullBitmap && d.nullCount > 0 && ((d.nullBitmap[at >> 3]! >> (at & 7)) & 1) === 0) return NULL;
  switch (d.typeId) {
    case Type.Timestamp:
      return isoMicros((d.values as BigInt64Array)[at]!);
    case Type.Int:
    case Type.Float:
      return String(d.values[at]);
    case Type.Bool:
      return ((d.values[at >> 3]! >> (at & 7)) & 1) === 1 ? 't' : 'f';
    case Type.Utf8: {
      const o = d.valueOffsets as Int32Array;
      const v = d.values as Uint8Array;
      return copyText(Buffer.from(v.buffer, v.byteOffset + o[at]!, o[at + 1]! - o[at]!).toString('utf8'));
    }
    default:
      throw new Error(`unexpected Parquet column type ${Type[d.typeId]}`);
  }
}

/** The Parquet file's column names, then its rows as COPY text chunks (one chunk a batch). */
export async function parquetCopyText(path: string): Promise<{ columns: string[]; chunks: AsyncGenerator<string> }> {
  const file = await pq.ParquetFile.fromFile(await openAsBlob(path));
  const columns = tableFromIPC(file.schema().intoIPCStream()).schema.fields.map((f) => f.name);
  async function* chunks(): AsyncGenerator<string> {
    try {
      const reader = (await file.stream({ batchSize: BATCH_ROWS })).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const table = tableFromIPC((value as pq.RecordBatch).intoIPCStream());
        for (const batch of table.batches) {
          const cols = batch.data.children;
          let out = '';
          for (let i = 0; i < batch.numRows; i++) out += `${cols.map((d) => cell(d, i)).join('\t')}\n`;
          yield out;
        }
      }
    } finally {
      file.free();
    }
  }
  return { columns, chunks: chunks() };
}
