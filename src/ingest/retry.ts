// The retry/backpressure policy of a chunk that failed to write: it asks the error (fenced, or
// retryable with a backoff; a missing partition also drops the cache of ensured days), and keeps
// count of the chunks waiting so the paused gauge is 1 while any waits.
import { classifyDbError } from '../db/errors.ts';
import { IngestError } from '../errors.ts';

export type RetryDecision =
  | { kind: 'fenced' }
  | { kind: 'retry'; backoffMs: number; forgetPartitions: boolean; retryable: boolean };

const BASE_BACKOFF_MS = 250;

/** What to do after attempt `attempt` (0-based) failed with `err`. */
export function retryDecision(err: unknown, attempt: number, maxBackoffMs: number): RetryDecision {
  if (err instanceof IngestError && err.code === 'E_FENCED') return { kind: 'fenced' };
  const backoffMs = Math.min(maxBackoffMs, BASE_BACKOFF_MS * 2 ** Math.min(attempt, 10));
  if (err instanceof IngestError) return { kind: 'retry', backoffMs, forgetPartitions: false, retryable: err.retryable };
  const db = classifyDbError(err);
  // A non-retryable error that reaches here was not a row's fault after all (the writer isolates
  // those): retrying keeps the batch, which is safer than dropping it; the log says which it was.
  return { kind: 'retry', backoffMs, forgetPartitions: db.kind === 'missing-partition', retryable: db.retryable };
}

/** Counts chunks waiting for PostgreSQL; `onChange(true)` when the first starts, `(false)` when the last ends. */
export class Backpressure {
  private waiting = 0;
  constructor(private readonly onChange: (paused: boolean) => void) {}

  enter(): void {
    if (this.waiting++ === 0) this.onChange(true);
  }

  leave(): void {
    if (this.waiting > 0 && --this.waiting === 0) this.onChange(false);
  }
}
