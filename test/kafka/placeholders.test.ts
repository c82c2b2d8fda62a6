// Pins the kafkajs 2.2.4 internals the placeholder codec relies on: its record-batch decoder hands the
// codec a view whose preceding bytes are the batch header, and decodes what the codec returns as the
// batch's records. If kafkajs changes either, these tests fail.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { registerCodecs } from '../../src/kafka/codecs.ts';
import { placeholderFailure, PLACEHOLDER_HEADER } from '../../src/kafka/placeholders.ts';
import { bomb } from '../helpers/bombs.ts';

const require = createRequire(import.meta.url);
type Encoded = { buffer: Buffer };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (b: object) => Promise<Encoded> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => Encoded;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{ records: { offset: string; value: Buffer | null; headers: Record<string, Buffer> }[] }>;
const { CompressionTypes, CompressionCodecs } = kafkajs;

registerCodecs(1024 * 1024);

/** A fetched batch as kafkajs sees it: the encoded batch inside a larger response buffer. */
async function fetched(compression: number, values: string[], firstOffset = 1000): Promise<Buffer> {
  const records = values.map((v, i) => Record({ offsetDelta: i, key: null, value: Buffer.from(v), headers: {} }));
  const batch = await RecordBatch({ compression, firstOffset: BigInt(firstOffset).toString(), lastOffsetDelta: values.length - 1, records });
  const response = Buffer.concat([Buffer.from('response header bytes'), batch.buffer]);
  return response.subarray(21);
}

test('a compressed batch inflating under the cap decodes to its own records, unchanged', async () => {
  for (const type of [CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
    const { records } = await decodeBatch(new Decoder(await fetched(type, ['one', 'two', 'three'])));
    assert.deepEqual(records.map((r) => [r.offset, r.value?.toString()]), [['1000', 'one'], ['1001', 'two'], ['1002', 'three']]);
    assert.ok(records.every((r) => placeholderFailure(r.headers) === undefined));
  }
});

test('a batch over the cap decodes to one placeholder per declared record, at its offsets, marked E_TOO_LARGE', async () => {
  // Compress with a codec that returns a 2 MB gzip bomb (1 MB cap): the batch declares 3 records.
  const big = await bomb('gzip', 2 * 1024 * 1024);
  const real = CompressionCodecs[CompressionTypes.GZIP]!;
  CompressionCodecs[CompressionTypes.GZIP] = () => ({ compress: async () => big, decompress: real().decompress });
  let input: Buffer;
  try {
    input = await fetched(CompressionTypes.GZIP, ['a', 'b', 'c'], 77);
  } finally {
    CompressionCodecs[CompressionTypes.GZIP] = real;
  }
  const { records } = await decodeBatch(new Decoder(input));
  assert.deepEqual(records.map((r) => r.offset), ['77', '78', '79']);
  for (const r of records) {
    assert.equal(r.value?.length, 0);
    const failure = placeholderFailure(r.headers);
    assert.equal(failure?.code, 'E_TOO_LARGE');
    assert.match(failure!.message, /gzip/);
  }
});

test('a corrupt compressed batch decodes to placeholders marked E_DECOMPRESS instead of throwing', async () => {
  const input = Buffer.from(await fetched(CompressionTypes.ZSTD, ['x', 'y']));
  input.fill(0x41, 61, 65); // the zstd frame's magic number (the records follow the 61-byte batch header)
  const { records } = await decodeBatch(new Decoder(input));
  assert.deepEqual(records.map((r) => [r.offset, placeholderFailure(r.headers)?.code]), [['1000', 'E_DECOMPRESS'], ['1001', 'E_DECOMPRESS']]);
});

test('a producer cannot forge a placeholder: the marker header of another process is a real record', () => {
  assert.equal(placeholderFailure({ [PLACEHOLDER_HEADER]: Buffer.from('0123456789abcdef0123456789abcdef{"code":"E_TOO_LARGE","message":"x"}') }), undefined);
});
