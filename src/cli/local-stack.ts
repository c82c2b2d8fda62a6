// The bridge from the CLI to the local development stack (tools/stack/), which is not part of the
// product: loaded at run time from a development checkout, refused with a clear message elsewhere.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface StackTopics { stats: string; lifecycle: string; dlq: string }
export interface StackOptions { root?: string; log?: (line: string) => void }
export interface StackUpOptions extends StackOptions {
  databaseUrl?: string;
  kafkaBrokers?: string;
  topics?: StackTopics;
  /** Also run S3Proxy (the local S3-compatible server for archives). */
  withS3?: boolean;
}
export interface StackUpResult {
  kafkaBrokers: string;
  databaseUrl: string;
  started: { kafka: boolean; postgres: boolean };
  /** With `withS3`: S3_* and ARCHIVE_URL for the local S3 server. */
  s3?: Record<string, string>;
}
export interface StackStatus {
  kafka: { running: boolean; pid: number | undefined; brokers: string | undefined };
  postgres: { running: boolean; pid: number | undefined; url: string | undefined };
}

/** What tools/stack/index.ts offers the CLI (it checks itself against this type). */
export interface LocalStack {
  stackUp(opts?: StackUpOptions): Promise<StackUpResult>;
  stackDown(opts?: StackOptions & { purge?: boolean }): Promise<void>;
  stackStatus(opts?: StackOptions): Promise<StackStatus>;
}

/** Raised when the local stack is asked for where it does not exist (the compiled image, an npm install). */
export class NoLocalStackError extends Error {
  constructor(what: string) {
    super(
      `${what} needs a development checkout (git clone, then npm install): the local Kafka + PostgreSQL stack lives in tools/stack/ and is not part of the compiled product. ` +
        'Set KAFKA_BROKERS and DATABASE_URL and use `orchestry-ingest run` instead.',
    );
    this.name = 'NoLocalStackError';
  }
}

/** Loads tools/stack from the checkout this CLI runs from; only when running the TypeScript sources. */
export async function loadLocalStack(what: string): Promise<LocalStack> {
  const here = fileURLToPath(import.meta.url);
  const entry = join(dirname(here), '..', '..', 'tools', 'stack', 'index.ts');
  if (!here.endsWith('.ts') || !existsSync(entry)) throw new NoLocalStackError(what);
  const mod = (await import(pathToFileURL(entry).href)) as { localStack: LocalStack };
  return mod.localStack;
}
