// Rows from a PostgreSQL cursor (array mode) into one Arrow record batch, built on raw buffers:
// apache-arrow's own timestamp setters take milliseconds, which would drop the microseconds.
import { makeData, RecordBatch, Struct, type Data, type DataType, type Schema } from 'apache-arrow';
import type { ArchiveColumn } from './columns.ts';

function validity(rows: unknown[][], col: number): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(Math.ceil(rows.length / 8));
  let nulls = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]![col] === null) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function values(c: ArchiveColumn, rows: unknown[][], col: number): Record<string, unknown> {
  const n = rows.length;
  const v = (i: number) => rows[i]![col];
  switch (c.kind) {
    case 'int64':
    case 'timestamp': {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) if (v(i) !== null) a[i] = BigInt(v(i) as string);
      return { data: a };
    }
    case 'int32':
      return { data: Int32Array.from(rows, (r) => (r[col] === null ? 0 : Number(r[col]))) };
    case 'float32':
      return { data: Float32Array.from(rows, (r) => (r[col] === null ? 0 : Number(r[col]))) };
    case 'float64':
      return { data: Float64Array.from(rows, (r) => (r[col] === null ? 0 : Number(r[col]))) };
    case 'bool': {
      const a = new Uint8Array(Math.ceil(n / 8));
      for (let i = 0; i < n; i++) if (v(i) === true) a[i >> 3]! |= 1 << (i & 7);
      return { data: a };
    }
    case 'text': {
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        if (v(i) !== null) total += Buffer.byteLength(v(i) as string, 'utf8');
        offsets[i + 1] = total;
      }
      const data = Buffer.allocUnsafe(total);
      for (let i = 0; i < n; i++) if (v(i) !== null) data.write(v(i) as string, offsets[i]!, 'utf8');
      return { data, valueOffsets: offsets };
    }
  }
}

/** One record batch of `schema` from `rows` (each an array in column order, as selectExpr reads them). */
export function toRecordBatch(schema: Schema, cols: ArchiveColumn[], rows: unknown[][]): RecordBatch {
  const children = cols.map((c, i) => {
    const { bitmap, nulls } = validity(rows, i);
    const type = schema.fields[i]!.type as DataType;
    return makeData({ type, length: rows.length, nullCount: nulls, nullBitmap: nulls > 0 ? bitmap : null, ...values(c, rows, i) } as never) as Data;
  });
  const struct = makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children });
  return new RecordBatch(schema, struct);
}
