// The stats part of a chunk's transaction: placeholders for apps not known yet, the metrics rows
// by binary COPY, then (riding in the offset's compare-and-set statement, one round trip) the newest
// sample per container onto its instances row and the late windows logged for the rollups job.
import type { PoolClient } from '../../db/pool.ts';
import type { Item } from '../chunk/item.ts';
import type { StatsMessage } from '../contract.ts';
import { BinaryChunkBuilder, copyInto } from '../copy.ts';
import { METRICS_COPY_BINARY, addMetricRowsBinary } from '../rows.ts';
import { TouchedWindows } from './invalidations.ts';
import { OFFSET_PARAMS, type Along } from '../offsets/store.ts';
import type { KnownApps } from './placeholder-apps.ts';

export interface RowsWritten {
  metrics: number;
  events: number;
}

/** What writeStats wrote, and what must go with the chunk's offset compare-and-set (`advanceOffset`). */
export interface StatsWritten extends RowsWritten {
  along: Along;
}

export async function writeStats(client: PoolClient, items: Item[], knownApps: KnownApps): Promise<StatsWritten> {
  const out = new BinaryChunkBuilder();
  const touched = new TouchedWindows();
  const apps = new Set<string>();
  // The newest sample per container updates its instances row (newer wins; equal ts: later offset).
  // Only unindexed columns change (not updated_at, which tracks lifecycle changes): HOT updates.
  const latest = new Map<string, StatsMessage>();
  for (const i of items) {
    const m = i.stats;
    if (!m || i.rejected) continue;
    addMetricRowsBinary(out, m);
    touched.add(m);
    apps.add(m.app);
    if (m.cpu_percent !== undefined || m.memory_percent !== undefined || m.memory_bytes !== undefined) {
      const prev = latest.get(m.container_id);
      if (!prev || prev.ts.ms <= m.ts.ms) latest.set(m.container_id, m);
    }
  }
  const unknown = [...apps].filter((a) => !knownApps.has(a));
  let events = 0;
  if (unknown.length > 0) {
    const res = await client.query('SELECT orchestry_ensure_apps($1::text[], NOW())', [unknown.sort()]);
    events += res.rowCount ?? 0;
  }
  const metrics = out.rows > 0 ? await copyInto(client, METRICS_COPY_BINARY, out.done()) : 0;
  const along: Along = { ctes: [], selects: [], params: [] };
  if (latest.size > 0) along.ctes.push(instancesUpdate(along, [...latest.values()]));
  // Late rows: windows below the rollup watermark are logged for the rollups job (same transaction).
  const log = touched.call(OFFSET_PARAMS + along.params.length + 1);
  if (log) {
    along.selects.push(`${log.sql} AS invalidations_logged`);
    along.params.push(...log.params);
  }
  return { metrics, events, along };
}

/**
 * The newest sample of each container onto its instances row (an older sample never overwrites a
 * newer one), as a CTE of the offset's statement; appends its parameters to `along`.
 */
function instancesUpdate(along: Along, samples: StatsMessage[]): string {
  const rows = samples.sort((a, b) => (a.container_id < b.container_id ? -1 : 1));
  const p = (i: number) => `$${OFFSET_PARAMS + along.params.length + i}`;
  const sql = `inst AS (UPDATE instances i SET
       cpu_percent = coalesce(s.cpu, i.cpu_percent),
       memory_percent = coalesce(s.mem, i.memory_percent),
       memory_usage_bytes = coalesce(s.bytes, i.memory_usage_bytes),
       stats_at = s.ts
     FROM unnest(${p(1)}::text[], ${p(2)}::timestamptz[], ${p(3)}::real[], ${p(4)}::real[], ${p(5)}::bigint[]) AS s(container_id, ts, cpu, mem, bytes)
     WHERE i.container_id = s.container_id AND (i.stats_at IS NULL OR i.stats_at <= s.ts))`;
  along.params.push(
    rows.map((m) => m.container_id),
    rows.map((m) => m.ts.iso),
    rows.map((m) => m.cpu_percent ?? null),
    rows.map((m) => m.memory_percent ?? null),
    rows.map((m) => (m.memory_bytes === undefined ? null : Math.round(m.memory_bytes).toString())),
  );
  return sql;
}
