// The workload's metric rows, prepared in memory before any timing: per lane (one database
// connection, like one of the worker's PARTITIONS_CONCURRENCY partitions in flight) and per batch
// of BATCH_MAX_MESSAGES messages, as COPY text and COPY binary (the worker's own encoders) and as parameters.
import type { Pool } from '../../src/db/pool.ts';
import { decodeStats } from '../../src/ingest/decode/decode.ts';
import { ChunkBuilder, addMetricRows, addMetricRowsBinary } from '../../src/ingest/rows.ts';
import { BinaryChunkBuilder } from '../../src/ingest/copy.ts';
import { METRIC_TYPES, METRIC_UNITS, type StatsMessage } from '../../src/ingest/contract.ts';
import type { Workload } from '../load.ts';

export type RowValues = [string, string, string, number, string, string, string];

export interface Batch {
  messages: StatsMessage[];
  copyChunks: string[];
  /** The same rows in COPY binary format (the binary COPY limit). */
  binaryChunks: Buffer[];
  rows: number;
}

const LIMITS = { messageMaxBytes: 1 << 20, minTsMs: 0, maxTsMs: Number.MAX_SAFE_INTEGER };

export function decodedSamples(w: Workload): { partition: number; msg: StatsMessage }[] {
  return w.samples.map((s) => {
    const d = decodeStats(Buffer.from(JSON.stringify(s.json)), LIMITS);
    if (!d.ok) throw new Error(`bench workload does not decode: ${d.error.message}`);
    return { partition: s.partition, msg: d.value };
  });
}

/** Lanes of batches: partition p goes to lane p % lanes; batches never mix partitions. */
export function lanesOf(decoded: { partition: number; msg: StatsMessage }[], lanes: number, batchMessages: number): Batch[][] {
  const byPartition = new Map<number, StatsMessage[]>();
  for (const d of decoded) {
    let list = byPartition.get(d.partition);
    if (!list) byPartition.set(d.partition, (list = []));
    list.push(d.msg);
  }
  const out: Batch[][] = Array.from({ length: lanes }, () => []);
  for (const [p, msgs] of [...byPartition].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i < msgs.length; i += batchMessages) {
      const messages = msgs.slice(i, i + batchMessages);
      const b = new ChunkBuilder();
      const bin = new BinaryChunkBuilder();
      for (const m of messages) {
        addMetricRows(b, m);
        addMetricRowsBinary(bin, m);
      }
      out[p % lanes]!.push({ messages, copyChunks: b.done(), binaryChunks: bin.done(), rows: b.rows });
    }
  }
  return out;
}

export function rowValues(m: StatsMessage): RowValues[] {
  const labels = JSON.stringify({ ...(m.labels ?? {}), container_id: m.container_id });
  const out: RowValues[] = [];
  for (const type of METRIC_TYPES) {
    const v = m[type];
    if (v !== undefined) out.push([m.app, type, m.ts.iso, v, labels, METRIC_UNITS[type], 'instance']);
  }
  return out;
}

/** Makes the daily partitions every sample falls in (the worker does this on demand). */
export async function ensurePartitions(pool: Pool, w: Workload): Promise<void> {
  const days = new Set(w.samples.map((s) => new Date(s.ts).toISOString().slice(0, 10)));
  for (const d of days) await pool.query("SELECT orchestry_ensure_day_partition('metrics', $1::date)", [d]);
}
