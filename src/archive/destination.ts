// Where archives go: a file:// directory or an s3:// bucket and prefix (any S3-compatible server).
// put() is all or nothing: a file is written under a temporary name and renamed; an S3 object is a
// multipart upload (@aws-sdk/lib-storage, streamed in parts) that is aborted on error, so a failed
// or interrupted upload never leaves an object under the final key.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Config } from '../config.ts';
import { IngestError } from '../errors.ts';

export interface Destination {
  /** The URL of the object under `key` (keys are '/'-separated, relative to the destination). */
  urlOf(key: string): string;
  put(key: string, body: Readable | Buffer): Promise<void>;
  /** The object's bytes; E_ARCHIVE_MISSING when there is none. */
  get(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

export type S3Settings = Config['archive']['s3'];

const missing = (url: string, cause?: unknown) => new IngestError('E_ARCHIVE_MISSING', `${url}: no such archive object`, false, { cause });

/** A file:// URL's directory: file:///abs/path, or file://./relative (resolved against the working directory). */
function fileDir(url: string): string {
  const rest = url.slice('file://'.length);
  return resolve(decodeURIComponent(rest));
}

export function fileDestination(url: string): Destination {
  const dir = fileDir(url);
  const path = (key: string) => join(dir, ...key.split('/'));
  return {
    urlOf: (key) => `file://${path(key)}`,
    async put(key, body) {
      const p = path(key);
      await mkdir(dirname(p), { recursive: true });
      const tmp = `${p}.tmp-${process.pid}`;
      try {
        await pipeline(Buffer.isBuffer(body) ? [body] : body, createWriteStream(tmp));
        await rename(tmp, p);
      } finally {
        await rm(tmp, { force: true });
      }
    },
    async get(key) {
      const p = path(key);
      if (!(await this.exists(key))) throw missing(`file://${p}`);
      return createReadStream(p);
    },
    exists: (key) => stat(path(key)).then((s) => s.isFile(), () => false),
    delete: (key) => rm(path(key), { force: true }),
  };
}

export function s3Client(s3: S3Settings): S3Client {
  return new S3Client({
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    ...(s3.accessKeyId && s3.secretAccessKey ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}),
    // S3-compatible servers (S3Proxy, older MinIO) answer 501 to the SDK's default trailing checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const notFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export function s3Destination(url: string, s3: S3Settings, client = s3Client(s3)): Destination {
  const u = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!u) throw new IngestError('E_CONFIG', `not an s3:// URL: ${url}`);
  const bucket = u[1]!;
  const prefix = u[2]!.replace(/\/+$/, '');
  const keyOf = (key: string) => (prefix ? `${prefix}/${key}` : key);
  return {
    urlOf: (key) => `s3://${bucket}/${keyOf(key)}`,
    async put(key, body) {
      // 8 MB parts, two in flight: at most ~16 MB of an object is buffered.
      const upload = new Upload({ client, params: { Bucket: bucket, Key: keyOf(key), Body: body }, partSize: 8 * 1024 * 1024, queueSize: 2, leavePartsOnError: false });
      await upload.done();
    },
    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
        return r.Body as Readable;
      } catch (err) {
        if (notFound(err)) throw missing(`s3://${bucket}/${keyOf(key)}`, err);
        throw err;
      }
    },
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keyOf(key) }));
    },
  };
}

/** The destination an ARCHIVE_URL names. */
export function destinationFor(url: string, s3: S3Settings): Destination {
  if (url.startsWith('s3://')) return s3Destination(url, s3);
  if (url.startsWith('file://')) return fileDestination(url);
  return fileDestination(`file://${url}`);
}

/** An object's URL (s3://bucket/key, file:///path) or a plain path, split into its destination and key. */
export function locate(objectUrl: string, s3: S3Settings): { destination: Destination; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(objectUrl);
  if (m) return { destination: s3Destination(`s3://${m[1]}`, s3), key: m[2]! };
  const path = resolve(objectUrl.startsWith('file://') ? decodeURIComponent(objectUrl.slice(7)) : objectUrl);
  return { destination: fileDestination(`file://${dirname(path)}`), key: path.slice(dirname(path).length + 1) };
}

/** The text of a small object (a manifest); undefined when absent. */
export async function getText(d: Destination, key: string): Promise<string | undefined> {
  if (!(await d.exists(key))) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of await d.get(key)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

