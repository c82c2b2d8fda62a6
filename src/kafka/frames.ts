// Upper bounds of what a compressed Kafka batch inflates to, read from the frames' own headers
// before anything is allocated: the decompression-bomb check of the snappy, LZ4 and zstd codecs.

/** A batch the codec refuses: `tooLarge` (over the cap) or a frame it cannot read. */
export class InflateError extends Error {
  constructor(
    readonly tooLarge: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'InflateError';
  }
}

const corrupt = (what: string) => new InflateError(false, `corrupt ${what}`);

function need(buf: Buffer, at: number, n: number, what: string): void {
  if (at + n > buf.length) throw corrupt(`${what}: truncated at byte ${at}`);
}

/** The uncompressed length a raw snappy block declares (its leading varint), and the varint's size. */
export function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    need(block, i, 1, 'snappy block');
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw corrupt('snappy block: length varint longer than 5 bytes');
}

export const XERIAL_MAGIC = Buffer.from([130, 83, 78, 65, 80, 80, 89, 0]);
const XERIAL_HEADER_BYTES = 16;

/** The raw snappy blocks of a snappy batch: xerial-framed (as the Java client writes) or one raw block. */
export function snappyBlocks(buf: Buffer): Buffer[] {
  if (buf.length < XERIAL_HEADER_BYTES || !buf.subarray(0, 8).equals(XERIAL_MAGIC)) return [buf];
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at < buf.length; ) {
    need(buf, at, 4, 'xerial chunk header');
    const size = buf.readUInt32BE(at);
    need(buf, at + 4, size, 'xerial chunk');
    blocks.push(buf.subarray(at + 4, at + 4 + size));
    at += 4 + size;
  }
  return blocks;
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
const isSkippable = (magic: number) => magic >>> 4 === 0x184d2a5;

/** Walks the frames of an LZ4 or zstd batch (both skip frames of magic 0x184D2A5?): `frame(at)` reads one past its magic and returns its end. */
function eachFrame(buf: Buffer, codec: string, magic: number, frame: (at: number) => number): void {
  for (let at = 0; at < buf.length; ) {
    need(buf, at, 4, `${codec} frame`);
    const m = buf.readUInt32LE(at);
    if (isSkippable(m)) {
      need(buf, at + 4, 4, `${codec} skippable frame`);
      at += 8 + buf.readUInt32LE(at + 4);
    } else if (m !== magic) {
      throw corrupt(`${codec} frame: magic 0x${m.toString(16)}`);
    } else {
      at = frame(at + 4);
    }
  }
}

/** One LZ4 frame from its descriptor: its bound and where it ends. */
function lz4Frame(buf: Buffer, at: number): { bound: number; end: number } {
  need(buf, at, 2, 'lz4 frame descriptor');
  const flg = buf[at]!;
  const blockMax = LZ4_BLOCK_MAX[(buf[at + 1]! >> 4) & 7]!;
  if (flg >> 6 !== 1 || blockMax === 0) throw corrupt('lz4 frame descriptor');
  let p = at + 2;
  let declared = 0;
  if (flg & 0x08) {
    need(buf, p, 8, 'lz4 content size');
    declared = Number(buf.readBigUInt64LE(p));
    p += 8;
  }
  if (flg & 0x01) p += 4; // dictionary id
  p += 1; // header checksum
  let blocks = 0;
  for (;;) {
    need(buf, p, 4, 'lz4 block');
    const word = buf.readUInt32LE(p);
    p += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    need(buf, p, size, 'lz4 block');
    blocks += word & 0x80000000 ? size : blockMax;
    p += size + (flg & 0x10 ? 4 : 0);
  }
  return { bound: Math.max(declared, blocks), end: p + (flg & 0x04 ? 4 : 0) };
}

/**
 * LZ4 frame format: each block counts as its frame's block maximum (an uncompressed block as its
 * size); a declared content size larger than that (a lie a decoder might preallocate) counts instead.
 */
export function lz4Bound(buf: Buffer): number {
  let total = 0;
  eachFrame(buf, 'lz4', LZ4_MAGIC, (at) => {
    const f = lz4Frame(buf, at);
    total += f.bound;
    return f.end;
  });
  return total;
}

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 * 1024;

interface ZstdHeader {
  end: number;
  windowSize: number;
  declared: number | undefined;
  checksum: boolean;
}

function zstdHeader(buf: Buffer, at: number): ZstdHeader {
  need(buf, at, 1, 'zstd frame header');
  const fhd = buf[at]!;
  const single = (fhd & 0x20) !== 0;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
  let p = at + 1;
  let windowSize = 0;
  if (!single) {
    need(buf, p, 1, 'zstd window descriptor');
    const wd = buf[p++]!;
    const base = 2 ** (10 + (wd >> 3));
    windowSize = base + (base / 8) * (wd & 7);
  }
  p += [0, 1, 2, 4][fhd & 3]!;
  need(buf, p, fcsBytes, 'zstd frame content size');
  let declared: number | undefined;
  if (fcsBytes === 1) declared = buf[p];
  else if (fcsBytes === 2) declared = buf.readUInt16LE(p) + 256;
  else if (fcsBytes === 4) declared = buf.readUInt32LE(p);
  else if (fcsBytes === 8) declared = Number(buf.readBigUInt64LE(p));
  if (single) windowSize = declared ?? 0;
  return { end: p + fcsBytes, windowSize, declared, checksum: (fhd & 0x04) !== 0 };
}

/**
 * zstd: the declared content size where a frame has one, and in any case the sum over its blocks
 * (raw and RLE blocks state their size; a compressed block is at most min(window, 128 KB)).
 */
export function zstdBound(buf: Buffer): { bound: number; declared: number | undefined } {
  let bound = 0;
  let declaredSum: number | undefined = 0;
  eachFrame(buf, 'zstd', ZSTD_MAGIC, (at) => {
    const h = zstdHeader(buf, at);
    let p = h.end;
    const compressedMax = Math.min(h.windowSize || ZSTD_BLOCK_MAX, ZSTD_BLOCK_MAX);
    for (let last = false; !last; ) {
      need(buf, p, 3, 'zstd block header');
      const word = buf.readUIntLE(p, 3);
      last = (word & 1) === 1;
      const type = (word >> 1) & 3;
      const size = word >>> 3;
      if (type === 3) throw corrupt('zstd block: reserved block type');
      const stored = type === 1 ? 1 : size;
      need(buf, p + 3, stored, 'zstd block');
      bound += type === 2 ? compressedMax : size;
      p += 3 + stored;
    }
    declaredSum = h.declared === undefined || declaredSum === undefined ? undefined : declaredSum + h.declared;
    return p + (h.checksum ? 4 : 0);
  });
  return { bound, declared: declaredSum };
}

/** Refuses a batch whose bound exceeds the cap, before anything is allocated for it. */
export function checkBound(codec: string, bound: number, cap: number): void {
  if (bound > cap) throw new InflateError(true, `${codec} batch would inflate to up to ${bound} bytes; the cap is ${cap} (KAFKA_DECOMPRESSED_BATCH_MAX_BYTES)`);
}
