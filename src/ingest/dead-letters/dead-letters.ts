// The DeadLetters service, the one owner of a dead letter's life: sent to the DLQ topic (and
// acknowledged) before its offset passes, recorded in ingest_dead_letters in the transaction that
// passes it, and counted once that transaction has committed.
import type { Metrics } from '../../metrics.ts';
import type { Pool, PoolClient } from '../../db/pool.ts';
import type { Producer } from '../../kafka/client.ts';
import type { Chunk } from '../chunk/chunk.ts';
import type { Item } from '../chunk/item.ts';
import { sendToDlq, type DeadLetter, type DlqTarget } from './dlq.ts';

/** Delivers dead letters to the DLQ topic; resolves once the broker has acknowledged them. */
export type DeadLetterSink = (letters: DeadLetter[]) => Promise<void>;

export class DeadLetters {
  constructor(
    private readonly sink: DeadLetterSink,
    private readonly workerId: string,
    private readonly metrics: Metrics,
  ) {}

  /** Dead letters sent through `producer` to `target` (the DLQ topic). */
  static toTopic(producer: Producer, target: DlqTarget, metrics: Metrics): DeadLetters {
    return new DeadLetters((letters) => sendToDlq(producer, target, letters), target.workerId, metrics);
  }

  /** Sends the rejected `items` of `chunk` to the DLQ; nothing is sent when none is rejected. */
  async send(chunk: Chunk, items: Item[]): Promise<void> {
    const letters = items.filter((i) => i.rejected).map((i) => deadLetterOf(chunk, i));
    if (letters.length > 0) await this.sink(letters);
  }

  /** Records the chunk's rejected items in ingest_dead_letters; must run in the chunk's transaction. */
  async record(client: PoolClient, chunk: Chunk): Promise<void> {
    const dead = chunk.items.filter((i) => i.rejected);
    if (dead.length === 0) return;
    await client.query(
      `INSERT INTO ingest_dead_letters (topic, partition, "offset", error_code, error_message, worker_id)
       SELECT $1, $2, o, c, m, $6 FROM unnest($3::bigint[], $4::text[], $5::text[]) AS d(o, c, m)
       ON CONFLICT (topic, partition, "offset") DO NOTHING`,
      [chunk.topic, chunk.partition, dead.map((i) => i.offset.toString()), dead.map((i) => i.rejected!.code), dead.map((i) => i.rejected!.message.replaceAll('\u0000', '\\u0000')), this.workerId],
    );
  }

  /** Counts the chunk's dead letters, once its transaction has committed. Returns how many. */
  count(chunk: Chunk): number {
    let n = 0;
    for (const i of chunk.items) {
      if (!i.rejected) continue;
      this.metrics.dlqMessages.inc({ code: i.rejected.code });
      this.metrics.messagesConsumed.inc({ topic: chunk.topic, outcome: 'dlq' });
      n++;
    }
    return n;
  }
}

/**
 * Deletes the ingest_dead_letters records of dead letters older than `days` (the retention job). The
 * DLQ topic keeps the messages themselves for its own retention.
 */
export async function deleteOldDeadLetterRecords(db: Pool, days: number): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM ingest_dead_letters WHERE dead_at < now() - make_interval(days => $1)`, [days]);
  return rowCount ?? 0;
}

/** The dead letter of a rejected item: its original bytes and headers, where it came from and why. */
export function deadLetterOf(chunk: Pick<Chunk, 'topic' | 'partition'>, item: Item): DeadLetter {
  return { topic: chunk.topic, partition: chunk.partition, offset: item.offset.toString(), key: item.key, value: item.value, headers: item.headers, error: item.rejected! };
}
