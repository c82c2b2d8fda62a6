// Stored offsets: the source of truth for what is in PostgreSQL. Each batch advances its
// topic-partition with a compare-and-set in the batch's own transaction.
import { IngestError } from '../../errors.ts';
import type { Pool, PoolClient } from '../../db/pool.ts';

/** Next offset to store for a topic-partition, creating the row at `initial` when there is none. */
export async function loadStoredOffset(pool: Pool, topic: string, partition: number, initial: string, workerId: string): Promise<bigint> {
  await pool.query(
    `INSERT INTO ingest_offsets (topic, partition, next_offset, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (topic, partition) DO NOTHING`,
    [topic, partition, initial, workerId],
  );
  const { rows } = await pool.query<{ next_offset: number }>('SELECT next_offset FROM ingest_offsets WHERE topic = $1 AND partition = $2', [topic, partition]);
  return BigInt(rows[0]!.next_offset);
}

/**
 * Advances the stored offset from `from` to `to`; throws E_FENCED when another worker moved it
 * first (this worker lost the partition): the caller's transaction must roll back.
 */
export async function advanceOffset(client: PoolClient, topic: string, partition: number, from: bigint, to: bigint, workerId: string): Promise<void> {
  const res = await client.query(
    `UPDATE ingest_offsets SET next_offset = $4, updated_at = NOW(), updated_by = $5
     WHERE topic = $1 AND partition = $2 AND next_offset = $3`,
    [topic, partition, from.toString(), to.toString(), workerId],
  );
  if (res.rowCount !== 1) {
    throw new IngestError('E_FENCED', `stored offset of ${topic}[${partition}] is no longer ${from}: another worker owns this partition`);
  }
}
