// The typed columns of an archived partition: each PostgreSQL column as an Arrow/Parquet type
// (timestamptz as INT64 TIMESTAMP(MICROS, UTC), real as FLOAT, integers as INT32/INT64, anything
// else, inet and jsonb included, as a UTF-8 string) and the SELECT expression that reads it so.
import { Bool, Field, Float32, Float64, Int32, Int64, Schema, TimestampMicrosecond, Utf8, type DataType } from 'apache-arrow';
import type { Pool, PoolClient } from '../db/pool.ts';
import { quoteIdent } from '../db/ident.ts';

export type ColumnKind = 'int64' | 'int32' | 'float32' | 'float64' | 'bool' | 'timestamp' | 'text';

export interface ArchiveColumn {
  name: string;
  /** PostgreSQL's type, as format_type() spells it (kept in the manifest). */
  pgType: string;
  kind: ColumnKind;
  nullable: boolean;
}

function kindOf(pgType: string): ColumnKind {
  if (pgType === 'bigint') return 'int64';
  if (pgType === 'integer' || pgType === 'smallint') return 'int32';
  if (pgType === 'real') return 'float32';
  if (pgType === 'double precision') return 'float64';
  if (pgType === 'boolean') return 'bool';
  if (pgType === 'timestamp with time zone') return 'timestamp';
  return 'text';
}

/** The columns of `table` in order (a partition has its parent's columns). */
export async function columnsOf(db: Pool | PoolClient, table: string): Promise<ArchiveColumn[]> {
  const { rows } = await db.query<{ name: string; type: string; notnull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
       FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [quoteIdent(table)],
  );
  return rows.map((r) => {
    const pgType = r.type.replace(/\(.*\)$/, '');
    return { name: r.name, pgType: r.type, kind: kindOf(pgType), nullable: !r.notnull };
  });
}

/** How the column is selected: timestamps as epoch microseconds (exact), text-like as text. */
export function selectExpr(c: ArchiveColumn): string {
  const q = quoteIdent(c.name);
  if (c.kind === 'timestamp') return `(extract(epoch FROM ${q}) * 1000000)::int8`;
  if (c.kind === 'text') return `${q}::text`;
  if (c.kind === 'int32') return `${q}::int4`;
  return q;
}

const ARROW: Record<ColumnKind, () => DataType> = {
  int64: () => new Int64(),
  int32: () => new Int32(),
  float32: () => new Float32(),
  float64: () => new Float64(),
  bool: () => new Bool(),
  timestamp: () => new TimestampMicrosecond('UTC'),
  text: () => new Utf8(),
};

export function arrowSchema(cols: ArchiveColumn[]): Schema {
  return new Schema(cols.map((c) => new Field(c.name, ARROW[c.kind](), c.nullable)));
}
