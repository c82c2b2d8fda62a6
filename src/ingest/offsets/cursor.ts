// Where each topic-partition resumes: the next offset stored in PostgreSQL, cached for the group
// generation (PostgreSQL holds the truth; Kafka's offset is a hint). Messages below it are skipped;
// when Kafka is ahead of it (e.g. a database restored from backup) the source seeks back, once.
import type { Pool } from '../../db/pool.ts';
import { loadStoredOffset } from './store.ts';

export type Resume<M> =
  /** Kafka fetched past the stored offset: seek back to it (the fetched messages are dropped). */
  | { kind: 'seek'; offset: bigint; fetched: bigint }
  /** The messages at or above the stored offset `from` (possibly none), and how many were below it. */
  | { kind: 'fresh'; from: bigint; fresh: M[]; duplicates: number };

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;

export class OffsetCursor {
  private readonly stored = new Map<string, bigint>();
  private readonly sought = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly workerId: string,
  ) {}

  /** A new group generation: every partition re-reads its stored offset and may seek once again. */
  reset(): void {
    this.stored.clear();
    this.sought.clear();
  }

  /** Where a fetched run of `messages` (in offset order, at least one) stands against the stored offset. */
  async resume<M extends { offset: string }>(topic: string, partition: number, messages: M[]): Promise<Resume<M>> {
    const key = keyOf(topic, partition);
    let from = this.stored.get(key);
    if (from === undefined) {
      from = await loadStoredOffset(this.pool, topic, partition, messages[0]!.offset, this.workerId);
      this.stored.set(key, from);
    }
    const first = BigInt(messages[0]!.offset);
    const once = !this.sought.has(key);
    this.sought.add(key);
    if (first > from && once) return { kind: 'seek', offset: from, fetched: first };
    const fresh = messages.filter((m) => BigInt(m.offset) >= from);
    return { kind: 'fresh', from, fresh, duplicates: messages.length - fresh.length };
  }

  /** A chunk committed: the partition's stored offset is now `to`. */
  advanced(topic: string, partition: number, to: bigint): void {
    this.stored.set(keyOf(topic, partition), to);
  }

  /** Forgets the cached offset (the partition was fenced): the next chunk re-reads it. */
  drop(topic: string, partition: number): void {
    this.stored.delete(keyOf(topic, partition));
  }

  /** Re-reads the stored offset: whether it is still `from` (an unreadable offset counts as unchanged). */
  async stillAt(topic: string, partition: number, from: bigint): Promise<boolean> {
    this.drop(topic, partition);
    const current = await loadStoredOffset(this.pool, topic, partition, from.toString(), this.workerId).catch(() => from);
    return current === from;
  }

  /** After a fence: the stored offset as it now stands (undefined when unreadable), cached again. */
  async recover(topic: string, partition: number): Promise<bigint | undefined> {
    const current = await loadStoredOffset(this.pool, topic, partition, '0', this.workerId).catch(() => undefined);
    if (current !== undefined) this.stored.set(keyOf(topic, partition), current);
    return current;
  }
}
