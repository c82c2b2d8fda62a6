// The four Kafka codecs registered into kafkajs (gzip replacing its built-in one), each inflating
// with an output cap, and turning a batch it refuses into placeholder records instead of throwing.
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import zstd from '@bokuweb/zstd-wasm';
import kafkajs from 'kafkajs';
import lz4 from 'lz4-napi';
import { InflateError, checkBound, lz4Bound, snappyBlocks, snappyDeclaredLength, zstdBound } from './frames.ts';
import { batchContextOf, placeholderRecords, recordsDecode, type BatchFailure } from './placeholders.ts';

// snappyjs comes with kafkajs-snappy (whose own decompress concatenates quadratically, uncapped).
const fromSnappyPackage = createRequire(createRequire(import.meta.url).resolve('kafkajs-snappy'));
const snappy = fromSnappyPackage('snappyjs') as { compress(b: Buffer): Buffer; uncompress(b: Buffer): Buffer };

export interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** 32 MiB: a 1 MB batch of JSON inflates to 5-20 MB; with RSS at ~120 MB idle, the worker stays < 300 MB. */
export const DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES = 32 * 1024 * 1024;

const gunzip = promisify(zlib.unzip);
const gzipCompress = promisify(zlib.gzip);

/** Inflate functions, each refusing output over `cap` bytes (InflateError) before or while allocating. */
export const inflate = {
  async gzip(buf: Buffer, cap: number): Promise<Buffer> {
    try {
      return await gunzip(buf, { maxOutputLength: cap });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new InflateError(true, `gzip batch inflates past the cap of ${cap} bytes (KAFKA_DECOMPRESSED_BATCH_MAX_BYTES)`);
      throw new InflateError(false, `corrupt gzip batch: ${(err as Error).message}`);
    }
  },
  async snappy(buf: Buffer, cap: number): Promise<Buffer> {
    const blocks = snappyBlocks(buf);
    checkBound('snappy', blocks.reduce((n, b) => n + snappyDeclaredLength(b), 0), cap);
    try {
      return Buffer.concat(blocks.map((b) => snappy.uncompress(b)));
    } catch (err) {
      throw new InflateError(false, `corrupt snappy batch: ${(err as Error).message}`);
    }
  },
  async lz4(buf: Buffer, cap: number): Promise<Buffer> {
    checkBound('lz4', lz4Bound(buf), cap);
    try {
      return await lz4.decompressFrame(buf);
    } catch (err) {
      throw new InflateError(false, `corrupt lz4 batch: ${(err as Error).message}`);
    }
  },
  async zstd(buf: Buffer, cap: number): Promise<Buffer> {
    const { bound, declared } = zstdBound(buf);
    checkBound('zstd', Math.max(bound, declared ?? 0), cap);
    await zstdReady();
    try {
      // The output buffer is the bound itself: zstd cannot write past it (wasm memory never shrinks).
      const out = zstd.decompress(buf, { defaultHeapSize: Math.max(bound, 1) });
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } catch (err) {
      throw new InflateError(false, `corrupt zstd batch: ${(err as Error).message}`);
    }
  },
};

let zstdInit: Promise<void> | undefined;
const zstdReady = () => (zstdInit ??= zstd.init());
const ZSTD_LEVEL = 3;

const compressors = {
  gzip: (b: Buffer) => gzipCompress(b),
  snappy: async (b: Buffer) => Buffer.from(snappy.compress(b)),
  lz4: (b: Buffer) => lz4.compressFrame(b),
  zstd: async (b: Buffer) => {
    await zstdReady();
    return Buffer.from(zstd.compress(b, ZSTD_LEVEL));
  },
};

type CodecName = keyof typeof inflate;

function failureOf(err: unknown, codec: CodecName, compressedBytes: number): BatchFailure {
  const tooLarge = err instanceof InflateError && err.tooLarge;
  const why = err instanceof Error ? err.message : String(err);
  return { code: tooLarge ? 'E_TOO_LARGE' : 'E_DECOMPRESS', message: `${why.slice(0, 300)} (${codec}, ${compressedBytes} compressed bytes)` };
}

/**
 * A kafkajs codec: inflate under the cap; a batch refused, corrupt, or whose records would not
 * decode becomes placeholders. Throws only when the batch header cannot be read back (kafkajs changed).
 */
export function cappedCodec(codec: CodecName, type: number, cap: () => number): Codec {
  return {
    compress: (encoder) => compressors[codec](encoder.buffer),
    async decompress(buffer) {
      const ctx = batchContextOf(buffer, type);
      let failure: BatchFailure;
      try {
        const out = await inflate[codec](buffer, cap());
        if (!ctx || recordsDecode(out, ctx.count)) return out;
        failure = { code: 'E_DECOMPRESS', message: `the inflated ${codec} batch does not hold the ${ctx.count} records it declares` };
      } catch (err) {
        failure = failureOf(err, codec, buffer.length);
        if (!ctx) throw err;
      }
      return placeholderRecords(ctx, failure);
    },
  };
}

let cap = DEFAULT_DECOMPRESSED_BATCH_MAX_BYTES;
let registered = false;

/** Registers the four capped codecs into kafkajs once; a later call with `maxBytes` sets the cap. */
export function registerCodecs(maxBytes?: number): void {
  if (maxBytes !== undefined) cap = maxBytes;
  if (registered) return;
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  const getCap = () => cap;
  CompressionCodecs[CompressionTypes.GZIP] = () => cappedCodec('gzip', CompressionTypes.GZIP, getCap);
  CompressionCodecs[CompressionTypes.Snappy] = () => cappedCodec('snappy', CompressionTypes.Snappy, getCap);
  CompressionCodecs[CompressionTypes.LZ4] = () => cappedCodec('lz4', CompressionTypes.LZ4, getCap);
  CompressionCodecs[CompressionTypes.ZSTD] = () => cappedCodec('zstd', CompressionTypes.ZSTD, getCap);
  registered = true;
}
