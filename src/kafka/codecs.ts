// Snappy, LZ4 (frame format, as Kafka uses) and ZSTD codecs registered into kafkajs. gzip is built in.
import { createRequire } from 'node:module';
import zstd from '@bokuweb/zstd-wasm';
import kafkajs from 'kafkajs';
import lz4 from 'lz4-napi';

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const require = createRequire(import.meta.url);
const snappyCodec = require('kafkajs-snappy') as () => Codec;

const lz4Codec = (): Codec => ({
  compress: (encoder) => lz4.compressFrame(encoder.buffer),
  decompress: (buffer) => lz4.decompressFrame(buffer),
});

let zstdInit: Promise<void> | undefined;
const zstdReady = () => (zstdInit ??= zstd.init());
const ZSTD_LEVEL = 3;
// Frames without a content size (streaming producers) get a guessed output buffer, grown until it fits.
const ZSTD_HEAP_START = 1024 * 1024;
const ZSTD_HEAP_MAX = 256 * 1024 * 1024;

const zstdCodec = (): Codec => ({
  async compress(encoder) {
    await zstdReady();
    return Buffer.from(zstd.compress(encoder.buffer, ZSTD_LEVEL));
  },
  async decompress(buffer) {
    await zstdReady();
    for (let heap = ZSTD_HEAP_START; ; heap *= 4) {
      try {
        const out = zstd.decompress(buffer, { defaultHeapSize: heap });
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      } catch (err) {
        if (heap * 4 > ZSTD_HEAP_MAX) throw err;
      }
    }
  },
});

let registered = false;

/** Registers the Snappy, LZ4 and ZSTD codecs into kafkajs once; later calls do nothing. */
export function registerCodecs(): void {
  if (registered) return;
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.Snappy] = snappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
  registered = true;
}
