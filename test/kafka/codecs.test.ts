// The capped codecs without a broker: each inflates what fits under the cap, and refuses a bomb
// from its frame headers (or, for gzip, while streaming) with an InflateError saying it is too large.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { inflate } from '../../src/kafka/codecs.ts';
import { InflateError, lz4Bound, snappyDeclaredLength, zstdBound } from '../../src/kafka/frames.ts';
import { bomb, type CodecName } from '../helpers/bombs.ts';

const MB = 1024 * 1024;
const CODECS: CodecName[] = ['gzip', 'snappy', 'lz4', 'zstd'];

const tooLarge = (err: unknown) => err instanceof InflateError && err.tooLarge;
const corrupt = (err: unknown) => err instanceof InflateError && !err.tooLarge;

for (const codec of CODECS) {
  test(`a ${codec} batch of 3 MB inflates exactly under a 4 MB cap and is refused as too large under a 2 MB cap`, async () => {
    const input = await bomb(codec, 3 * MB);
    const out = await inflate[codec](input, 4 * MB);
    assert.ok(out.length > 3 * MB && out.length < 3 * MB + 16, `${out.length} bytes`);
    assert.equal(out.subarray(10, 3 * MB).indexOf(98), -1, 'the value is all "a"');
    await assert.rejects(inflate[codec](input, 2 * MB), tooLarge);
  });

  test(`a ${codec} batch of garbage is refused as corrupt, not thrown as something else`, async () => {
    const good = await bomb(codec, 200_000);
    const bad = Buffer.from(good);
    bad.fill(0x5a, 5, Math.min(bad.length - 2, 40));
    await assert.rejects(inflate[codec](bad, 4 * MB), (err: unknown) => corrupt(err) || tooLarge(err));
    await assert.rejects(inflate[codec](Buffer.from('not a frame at all'), 4 * MB), (err: unknown) => corrupt(err) || tooLarge(err));
  });
}

test('the 300 MB bombs are small and each is refused under the default 32 MB cap without inflating', async () => {
  const sizes: Record<string, number> = {};
  for (const codec of ['gzip', 'lz4', 'zstd'] as const) {
    const input = await bomb(codec, 300 * MB);
    sizes[codec] = input.length;
    const before = process.memoryUsage().rss;
    await assert.rejects(inflate[codec](input, 32 * MB), tooLarge);
    assert.ok(process.memoryUsage().rss - before < 100 * MB, `${codec}: RSS grew by ${(process.memoryUsage().rss - before) / MB} MB`);
  }
  assert.ok(sizes.gzip! < 400_000 && sizes.lz4! < 1_400_000 && sizes.zstd! < 12_000, JSON.stringify(sizes));
});

test('frame bounds come from declared sizes: zstd blocks, an LZ4 content size, a snappy length varint', async () => {
  assert.equal(zstdBound(await bomb('zstd', 10 * MB)).bound > 10 * MB, true);
  assert.equal(zstdBound(await bomb('zstd', 10 * MB)).declared, undefined);
  // An LZ4 frame declaring 4 GB of content (a decoder might preallocate it) is bounded by the declaration.
  const lie = Buffer.from('04224d18684000000000010000003500000000', 'hex');
  assert.ok(lz4Bound(lie) >= 2 ** 32);
  // A raw snappy block declaring 4 GB.
  const declared = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
  assert.equal(snappyDeclaredLength(declared), 2 ** 32 - 1);
  await assert.rejects(inflate.snappy(declared, 32 * MB), tooLarge);
  await assert.rejects(inflate.lz4(lie, 32 * MB), tooLarge);
});

test('gzip is inflated by a stream with a limit: a gzip of 64 MB of zeros is refused at the cap', async () => {
  const input = zlib.gzipSync(Buffer.alloc(64 * MB));
  await assert.rejects(inflate.gzip(input, 8 * MB), tooLarge);
  assert.equal((await inflate.gzip(input, 64 * MB)).length, 64 * MB);
});
