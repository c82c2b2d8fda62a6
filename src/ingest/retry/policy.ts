// The retry/backpressure policy of a chunk that failed to write. It asks the error: fenced (the
// partition moved to another worker: stop), or retry after a capped exponential backoff, saying
// whether the error itself is `retryable` (a missing partition also drops the cache of ensured
// days). While a chunk waits its partition fetches nothing more (that is the backpressure), and the
// paused gauge is 1 while any chunk waits. No broker, no database: those come in as hooks.
import { classifyDbError } from '../../db/errors.ts';
import { IngestError } from '../../errors.ts';

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

  /** How many chunks are waiting now. */
  get size(): number {
    return this.waiting;
  }
}

/** What the policy needs from the stage it runs (the pipeline gives the broker and the database). */
export interface RetryHooks {
  /** Waits `ms` while keeping the partition; false when it should be given up (stopping, rebalancing). */
  wait(ms: number): Promise<boolean>;
  /** After a wait: whether the stored offset is still where this chunk starts (false: fenced). */
  stillOwned(): Promise<boolean>;
  /** Drops the cache of ensured day partitions (one was dropped or detached under us). */
  forgetPartitions(): void;
  /** Reports a failed attempt (0-based) and what was decided. */
  failed(err: unknown, attempt: number, decision: Extract<RetryDecision, { kind: 'retry' }>): void;
}

export type RetryOutcome<T> =
  | { kind: 'done'; value: T; attempts: number }
  /** `err` is the E_FENCED error when the write itself was refused; absent when a re-read found the offset moved. */
  | { kind: 'fenced'; err?: unknown }
  | { kind: 'stopped' };

export class RetryPolicy {
  constructor(
    private readonly maxBackoffMs: number,
    private readonly backpressure: Backpressure,
  ) {}

  /** Runs `attempt` until it succeeds, the partition is fenced, or the wait is given up. */
  async run<T>(attempt: () => Promise<T>, hooks: RetryHooks): Promise<RetryOutcome<T>> {
    let waiting = false;
    try {
      for (let n = 0; ; n++) {
        try {
          return { kind: 'done', value: await attempt(), attempts: n + 1 };
        } catch (err) {
          const decision = retryDecision(err, n, this.maxBackoffMs);
          if (decision.kind === 'fenced') return { kind: 'fenced', err };
          if (decision.forgetPartitions) hooks.forgetPartitions();
          if (!waiting) this.backpressure.enter();
          waiting = true;
          hooks.failed(err, n, decision);
          if (!(await hooks.wait(decision.backoffMs))) return { kind: 'stopped' };
          // The stored offset may have moved meanwhile (another worker): re-read before retrying.
          if (!(await hooks.stillOwned())) return { kind: 'fenced' };
        }
      }
    } finally {
      if (waiting) this.backpressure.leave();
    }
  }
}
