// Database-only paths over the same rows, no Kafka: the COPY limit and the two INSERT baselines.
// Each runs on a fresh database with the same metrics table and indexes, one connection per lane.
import type { Pool } from '../../src/db/pool.ts';
import { withTransaction } from '../../src/db/tx.ts';
import { copyInto } from '../../src/ingest/copy.ts';
import { METRICS_COPY, METRICS_COPY_BINARY } from '../../src/ingest/rows.ts';
import { benchDatabase, countRows } from '../db.ts';
import type { Workload } from '../load.ts';
import { ensurePartitions, rowValues, type Batch, type RowValues } from './rows.ts';

const COLUMNS = '(app_name, metric_type, timestamp, value, labels, unit, aggregation_level)';
const MAX_ROWS_PER_STATEMENT = 8000; // 7 parameters a row, under PostgreSQL's 65535

export interface DbRun {
  rowsPerSec: number;
  rows: number;
  seconds: number;
}

function insertSql(rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const b = r * 7;
    tuples.push(`($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5}::jsonb,$${b + 6},$${b + 7})`);
  }
  return `INSERT INTO metrics ${COLUMNS} VALUES ${tuples.join(',')}`;
}

/** Called around the measured span of a path (CPU sampling). */
export interface SpanHooks {
  start(): void;
  stop(): void;
}

async function timed(w: Workload, lanes: Batch[][], perLane: (pool: Pool, batches: Batch[], deadline: number) => Promise<number>, timeCapMs: number, prepare?: (pool: Pool) => Promise<void>, span?: SpanHooks): Promise<DbRun> {
  const db = await benchDatabase();
  try {
    await ensurePartitions(db.pool, w);
    if (prepare) await prepare(db.pool);
    span?.start();
    const t0 = performance.now();
    const deadline = Date.now() + timeCapMs;
    const done = await Promise.all(lanes.map((batches) => perLane(db.pool, batches, deadline)));
    const seconds = (performance.now() - t0) / 1000;
    span?.stop();
    const rows = done.reduce((a, b) => a + b, 0);
    const landed = await countRows(db.pool, 'metrics');
    if (landed !== rows) throw new Error(`expected ${rows} rows, found ${landed}`);
    return { rowsPerSec: rows / seconds, rows, seconds };
  } finally {
    await db.drop();
  }
}

/** The limit: each batch's rows (precomputed COPY text, or binary) by COPY in one transaction. */
export function copyLimit(w: Workload, lanes: Batch[][], prepare?: (pool: Pool) => Promise<void>, format: 'text' | 'binary' = 'text', span?: SpanHooks): Promise<DbRun> {
  return timed(w, lanes, async (pool, batches) => {
    let rows = 0;
    for (const b of batches) rows += await withTransaction(pool, (c) => (format === 'text' ? copyInto(c, METRICS_COPY, b.copyChunks) : copyInto(c, METRICS_COPY_BINARY, b.binaryChunks)));
    return rows;
  }, Number.MAX_SAFE_INTEGER, prepare, span);
}

/** Baseline: one INSERT (of its 8 rows) per message, each its own transaction (autocommit). Time-capped. */
export function insertPerMessage(w: Workload, lanes: Batch[][], timeCapMs: number): Promise<DbRun> {
  return timed(w, lanes, async (pool, batches, deadline) => {
    const client = await pool.connect();
    let rows = 0;
    try {
      for (const b of batches) {
        for (const m of b.messages) {
          const values = rowValues(m);
          await client.query({ name: `one-${values.length}`, text: insertSql(values.length), values: values.flat() });
          rows += values.length;
        }
        if (Date.now() > deadline) break;
      }
    } finally {
      client.release();
    }
    return rows;
  }, timeCapMs);
}

/** Baseline: multi-row INSERT statements (up to 8000 rows each) per batch, one transaction per batch. Time-capped. */
export function multiRowInsert(w: Workload, lanes: Batch[][], timeCapMs: number): Promise<DbRun> {
  return timed(w, lanes, async (pool, batches, deadline) => {
    let rows = 0;
    for (const b of batches) {
      const all: RowValues[] = b.messages.flatMap(rowValues);
      await withTransaction(pool, async (c) => {
        for (let i = 0; i < all.length; i += MAX_ROWS_PER_STATEMENT) {
          const part = all.slice(i, i + MAX_ROWS_PER_STATEMENT);
          await c.query({ name: `multi-${part.length}`, text: insertSql(part.length), values: part.flat() });
        }
      });
      rows += all.length;
      if (Date.now() > deadline) break;
    }
    return rows;
  }, timeCapMs);
}
