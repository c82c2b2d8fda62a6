// The lifecycle part of a chunk's transaction: its messages are COPYed into a temporary staging
// table (made here, emptied at each commit) and applied in offset order by
// orchestry_apply_lifecycle() in one round trip.
import type { PoolClient } from '../../db/pool.ts';
import type { Item } from '../chunk/item.ts';
import { copyInto } from '../copy.ts';
import { ChunkBuilder, LIFECYCLE_STAGE_COPY, addLifecycleRow } from '../rows.ts';
import type { RowsWritten } from './stats.ts';

const LIFECYCLE_STAGE_DDL = `CREATE TEMP TABLE IF NOT EXISTS lifecycle_stage (
  seq BIGINT NOT NULL, type TEXT NOT NULL, app TEXT NOT NULL, container_id TEXT, ts TIMESTAMPTZ NOT NULL,
  payload JSONB NOT NULL, event_type TEXT NOT NULL, event_category TEXT NOT NULL, severity TEXT NOT NULL,
  message TEXT NOT NULL, source TEXT NOT NULL, node_id TEXT
) ON COMMIT DELETE ROWS`;

export async function writeLifecycle(client: PoolClient, items: Item[]): Promise<RowsWritten> {
  const out = new ChunkBuilder();
  for (const i of items) if (i.lifecycle && !i.rejected) addLifecycleRow(out, i.offset.toString(), i.lifecycle);
  if (out.rows === 0) return { metrics: 0, events: 0 };
  await client.query(LIFECYCLE_STAGE_DDL);
  await copyInto(client, LIFECYCLE_STAGE_COPY, out.done());
  const { rows } = await client.query<{ n: number }>('SELECT orchestry_apply_lifecycle() AS n');
  return { metrics: 0, events: rows[0]?.n ?? 0 };
}
