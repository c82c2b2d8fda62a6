// The lifecycle part of a chunk's transaction: its messages are COPYed into a temporary staging
// table (made here, emptied at each commit) and applied in offset order by
// orchestry_apply_lifecycle(), one lifecycle chunk at a time.
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

// Lifecycle chunks are applied one at a time (per database, across partitions and workers): chunks
// of two partitions updating the same applications (app.status, app.scaled, the replicas count)
// in message order deadlocked, and PostgreSQL broke each cycle only after deadlock_timeout (1 s) by
// failing one chunk. Locking the chunk's applications in name order first was not enough: an
// application registered meanwhile is not among them. Lifecycle chunks take milliseconds.
const ONE_LIFECYCLE_CHUNK_AT_A_TIME = "SELECT pg_advisory_xact_lock(hashtext('orchestry.lifecycle'))";

export async function writeLifecycle(client: PoolClient, items: Item[]): Promise<RowsWritten> {
  const out = new ChunkBuilder();
  for (const i of items) if (i.lifecycle && !i.rejected) addLifecycleRow(out, i.offset.toString(), i.lifecycle);
  if (out.rows === 0) return { metrics: 0, events: 0 };
  await client.query(LIFECYCLE_STAGE_DDL);
  await copyInto(client, LIFECYCLE_STAGE_COPY, out.done());
  await client.query(ONE_LIFECYCLE_CHUNK_AT_A_TIME);
  const { rows } = await client.query<{ n: number }>('SELECT orchestry_apply_lifecycle() AS n');
  return { metrics: 0, events: rows[0]?.n ?? 0 };
}
