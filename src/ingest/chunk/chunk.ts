// The chunk: what every stage after the source works on. A run of consecutive offsets [from, to)
// of one topic-partition, decoded into items in offset order, written in one transaction and
// committed as one. Also how a fetched batch is cut into chunks, and a chunk into halves.
import type { Item, TopicKind } from './item.ts';

export interface Chunk {
  kind: TopicKind;
  topic: string;
  partition: number;
  /** The stored offset this chunk advances from (its first offset, or the stored one before it). */
  from: bigint;
  /** One past the chunk's last offset: the stored offset once it is committed. */
  to: bigint;
  items: Item[];
}

/** Items `start` to `end` (exclusive) of `chunk`, as a chunk of their own offset range. */
export function sliceChunk(chunk: Chunk, start: number, end: number): Chunk {
  const { items } = chunk;
  const from = start === 0 ? chunk.from : items[start]!.offset;
  const to = end >= items.length ? chunk.to : items[end]!.offset;
  return { ...chunk, from, to, items: items.slice(start, end) };
}

export interface ChunkLimits {
  /** BATCH_MAX_MESSAGES */
  maxMessages: number;
  /** BATCH_MAX_BYTES (keys and values) */
  maxBytes: number;
}

/** Cuts a fetched batch into runs bounded by `limits` (each holds at least one message). */
export function* splitBatch<M extends { key: Buffer | null; value: Buffer | null }>(messages: M[], limits: ChunkLimits): Generator<M[]> {
  let run: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
    if (run.length > 0 && (run.length >= limits.maxMessages || bytes + size > limits.maxBytes)) {
      yield run;
      run = [];
      bytes = 0;
    }
    run.push(m);
    bytes += size;
  }
  if (run.length > 0) yield run;
}
