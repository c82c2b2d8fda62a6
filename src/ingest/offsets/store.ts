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
 * Statements that ride in the compare-and-set's round trip (one statement, one round trip per
 * chunk instead of one each): data-modifying CTEs and SELECT-list expressions whose parameters are
 * numbered from `$${OFFSET_PARAMS + 1}`. A `selects` entry is evaluated for its effect (e.g. a
 * function call); its value is not returned.
 */
export interface Along {
  ctes: string[];
  selects: string[];
  params: unknown[];
}

/** Parameters the compare-and-set itself takes ($1-$5); an `Along`'s are numbered after them. */
export const OFFSET_PARAMS = 5;

/**
 * Advances the stored offset from `from` to `to`; throws E_FENCED when another worker moved it
 * first (this worker lost the partition): the caller's transaction must roll back. `along` runs in
 * the same statement; its CTEs run whether or not the offset advanced (the rollback undoes them).
 */
export async function advanceOffset(client: PoolClient, topic: string, partition: number, from: bigint, to: bigint, workerId: string, along?: Along): Promise<void> {
  const ctes = [
    ...(along?.ctes ?? []),
    `adv AS (UPDATE ingest_offsets SET next_offset = $4, updated_at = NOW(), updated_by = $5
              WHERE topic = $1 AND partition = $2 AND next_offset = $3 RETURNING 1)`,
  ];
  const { rows } = await client.query<{ advanced: number }>(
    `WITH ${ctes.join(',\n')} SELECT (SELECT count(*) FROM adv)::int AS advanced${(along?.selects ?? []).map((x) => `, ${x}`).join('')}`,
    [topic, partition, from.toString(), to.toString(), workerId, ...(along?.params ?? [])],
  );
  if (rows[0]?.advanced !== 1) {
    throw new IngestError('E_FENCED', `stored offset of ${topic}[${partition}] is no longer ${from}: another worker owns this partition`);
  }
}
