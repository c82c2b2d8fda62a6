// Decompression bombs per Kafka codec: a record batch payload (one record whose value is `valueBytes`
// of 'a') compressed into a small input, built by streaming so the test never holds the inflated bytes.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import lz4 from 'lz4-napi';
import { produce } from './kafka.ts';

const require = createRequire(import.meta.url);
const Encoder = require('kafkajs/src/protocol/encoder') as {
  new (): { writeVarInt(n: number): unknown; writeInt8(n: number): unknown; writeVarLong(n: number): unknown; buffer: Buffer };
  sizeOfVarInt(n: number): number;
};
const snappy = createRequire(require.resolve('kafkajs-snappy'))('snappyjs') as { compress(b: Buffer): Buffer };

export type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';
const MB = 1024 * 1024;

/** The bytes of one record (null key, no headers) before and after its value. */
function recordFrame(valueBytes: number): { prefix: Buffer; suffix: Buffer } {
  const body = 1 + 1 + 1 + 1 + Encoder.sizeOfVarInt(valueBytes) + valueBytes + 1;
  const e = new Encoder();
  e.writeVarInt(body);
  e.writeInt8(0); // attributes
  e.writeVarLong(0); // timestamp delta
  e.writeVarInt(0); // offset delta
  e.writeVarInt(-1); // null key
  e.writeVarInt(valueBytes);
  return { prefix: Buffer.from(e.buffer), suffix: Buffer.from([0]) };
}

async function gzipBomb(valueBytes: number): Promise<Buffer> {
  const { prefix, suffix } = recordFrame(valueBytes);
  const gz = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (d: Buffer) => out.push(d));
  const done = new Promise((resolve, reject) => gz.on('end', resolve).on('error', reject));
  gz.write(prefix);
  const chunk = Buffer.alloc(MB, 97);
  for (let left = valueBytes; left > 0; left -= MB) {
    if (!gz.write(left >= MB ? chunk : chunk.subarray(0, left))) await new Promise((r) => gz.once('drain', r));
  }
  gz.end(suffix);
  await done;
  return Buffer.concat(out);
}

/** zstd: one frame without a content size; raw blocks around RLE blocks of 128 KB (4 bytes each). */
function zstdBomb(valueBytes: number): Buffer {
  const { prefix, suffix } = recordFrame(valueBytes);
  const block = (type: number, size: number, last: boolean, body: Buffer) => {
    const h = Buffer.alloc(3);
    h.writeUIntLE((size << 3) | (type << 1) | (last ? 1 : 0), 0, 3);
    return Buffer.concat([h, body]);
  };
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]), block(0, prefix.length, false, prefix)];
  const rle = 128 * 1024;
  for (let left = valueBytes; left > 0; left -= rle) parts.push(block(1, Math.min(rle, left), false, Buffer.from([97])));
  parts.push(block(0, suffix.length, true, suffix));
  return Buffer.concat(parts);
}

/** LZ4 frame (independent 64 KB blocks): lz4-napi's block of 64 KB of 'a', repeated; raw blocks around it. */
async function lz4Bomb(valueBytes: number): Promise<Buffer> {
  const { prefix, suffix } = recordFrame(valueBytes);
  const unit = 64 * 1024;
  const frame = await lz4.compressFrame(Buffer.alloc(unit, 97));
  const header = frame.subarray(0, 7); // magic, FLG (independent blocks, no content size), BD (64 KB), HC
  const size = frame.readUInt32LE(7);
  const block = frame.subarray(7, 11 + size);
  const raw = (b: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of((b.length | 0x80000000) >>> 0).buffer), b]);
  const parts = [header, raw(prefix)];
  let left = valueBytes;
  for (; left >= unit; left -= unit) parts.push(block);
  parts.push(raw(Buffer.concat([Buffer.alloc(left, 97), suffix])), Buffer.alloc(4));
  return Buffer.concat(parts);
}

/** Snappy, xerial-framed as the Java client writes it: 1 MB chunks (snappy's ratio is about 21:1). */
function snappyBomb(valueBytes: number): Buffer {
  const { prefix, suffix } = recordFrame(valueBytes);
  const header = Buffer.from([130, 83, 78, 65, 80, 80, 89, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const chunk = (raw: Buffer) => {
    const c = snappy.compress(raw);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(c.length);
    return Buffer.concat([len, c]);
  };
  const full = chunk(Buffer.alloc(MB, 97));
  const parts = [header, chunk(prefix)];
  let left = valueBytes;
  for (; left >= MB; left -= MB) parts.push(full);
  parts.push(chunk(Buffer.concat([Buffer.alloc(left, 97), suffix])));
  return Buffer.concat(parts);
}

/** A compressed record-batch payload holding one record of `valueBytes` bytes. */
export async function bomb(codec: CodecName, valueBytes: number): Promise<Buffer> {
  if (codec === 'gzip') return gzipBomb(valueBytes);
  if (codec === 'zstd') return zstdBomb(valueBytes);
  if (codec === 'lz4') return lz4Bomb(valueBytes);
  return snappyBomb(valueBytes);
}

const TYPES = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/**
 * Produces one record batch whose compressed records are `payload` (e.g. a bomb), declaring one
 * record: the test producer's codec is swapped for one that returns `payload`, then restored.
 */
export async function produceCompressed(topic: string, codec: CodecName, payload: Buffer, key: string): Promise<void> {
  const type = TYPES[codec];
  const real = kafkajs.CompressionCodecs[type]!;
  kafkajs.CompressionCodecs[type] = () => ({ compress: async () => payload, decompress: real().decompress });
  try {
    await produce(topic, [{ key, value: 'replaced by the payload' }], type);
  } finally {
    kafkajs.CompressionCodecs[type] = real;
  }
}
