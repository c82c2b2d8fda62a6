// An own S3Proxy for a test file (under a temporary stack root whose Maven cache is the shared one):
// started by the test itself, so `npm test` needs no extra step; stop() and start() simulate an outage.
import { rm } from 'node:fs/promises';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Client } from '../../src/archive/destination.ts';
import { loadConfig } from '../../src/config.ts';
import { repoRoot } from '../../tools/stack/index.ts';
import { s3Env, startS3Proxy, stopS3Proxy, type S3State } from '../../tools/stack/s3proxy.ts';
import { tempRoot } from './stack.ts';

const log = (line: string) => {
  if (process.env.TEST_LOG_LEVEL) process.stderr.write(`[own s3] ${line}\n`);
};

export interface OwnS3 {
  /** S3_* and ARCHIVE_URL (s3://orchestry-archive/archive) for loadConfig. */
  env: Record<string, string>;
  /** Every key under `prefix` in the bucket. */
  keys(prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  down(): Promise<void>;
}

export async function ownS3(): Promise<OwnS3> {
  const root = await tempRoot();
  let state: S3State = await startS3Proxy(repoRoot(), root, {}, log);
  const env = s3Env(state);
  const client = s3Client(loadConfig({ ...env, LOG_LEVEL: 'silent' }).archive.s3);
  return {
    env,
    async keys(prefix = '') {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const r = await client.send(new ListObjectsV2Command({ Bucket: state.bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(r.Contents ?? []).map((c) => c.Key!));
        token = r.NextContinuationToken;
      } while (token);
      return out.sort();
    },
    stop: () => stopS3Proxy(root, state.pid, log),
    async start() {
      state = await startS3Proxy(repoRoot(), root, state, log);
    },
    async down() {
      await stopS3Proxy(root, state.pid, log).catch(() => {});
      client.destroy();
      await rm(root, { recursive: true, force: true }).catch(() => {});
    },
  };
}
