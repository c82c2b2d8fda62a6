// Chunks without a broker: a fetched batch cut by BATCH_MAX_MESSAGES and BATCH_MAX_BYTES, and a
// chunk cut in two, each part with its own offset range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sliceChunk, splitBatch, type Chunk } from '../../../src/ingest/chunk/chunk.ts';

const msg = (bytes: number) => ({ key: Buffer.alloc(1), value: Buffer.alloc(bytes - 1) });
const sizes = (runs: { value: Buffer | null; key: Buffer | null }[][]) => runs.map((r) => r.map((m) => (m.value?.length ?? 0) + (m.key?.length ?? 0)));

test('a batch is cut at BATCH_MAX_MESSAGES or before BATCH_MAX_BYTES would be passed; a message larger than the limit goes alone', () => {
  assert.deepEqual(sizes([...splitBatch([msg(10), msg(10), msg(10), msg(10), msg(10)], { maxMessages: 2, maxBytes: 1000 })]), [[10, 10], [10, 10], [10]]);
  assert.deepEqual(sizes([...splitBatch([msg(40), msg(40), msg(30), msg(200), msg(5)], { maxMessages: 100, maxBytes: 100 })]), [[40, 40], [30], [200], [5]]);
  assert.deepEqual([...splitBatch([], { maxMessages: 1, maxBytes: 1 })], []);
  assert.deepEqual(sizes([...splitBatch([{ key: null, value: null }], { maxMessages: 1, maxBytes: 1 })]), [[0]]);
});

test('a chunk cut in two: the first part keeps its start, the second its end, and they meet at the cut', () => {
  const item = (offset: bigint) => ({ offset, key: null, value: null, headers: undefined });
  const chunk: Chunk = { kind: 'stats', topic: 't', partition: 1, from: 3n, to: 12n, items: [item(5n), item(7n), item(9n), item(11n)] };
  const head = sliceChunk(chunk, 0, 2);
  const tail = sliceChunk(chunk, 2, 4);
  assert.deepEqual([head.from, head.to, head.items.map((i) => i.offset)], [3n, 9n, [5n, 7n]]);
  assert.deepEqual([tail.from, tail.to, tail.items.map((i) => i.offset)], [9n, 12n, [9n, 11n]]);
  assert.deepEqual([tail.topic, tail.partition, tail.kind], ['t', 1, 'stats']);
});
