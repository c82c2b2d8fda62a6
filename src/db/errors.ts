// PostgreSQL errors classified once, by SQLSTATE: each becomes a typed error that says whether a
// retry can help. The ingest retry policy and the batch splitter ask this module, nothing else.
import { errorMessage, sqlState } from '../errors.ts';

export type DbErrorKind =
  /** A row is at fault (class 22 data exception, class 23 constraint): isolate it and dead-letter it. */
  | 'row'
  /** A row's day has no partition to go to (23514 "no partition of relation"): re-check the day, then retry. */
  | 'missing-partition'
  /** Anything else (connection loss 08, shutdown 57P, resources 53, serialization 40, timeouts): retry. */
  | 'transient';

export class DbError extends Error {
  constructor(
    readonly kind: DbErrorKind,
    readonly sqlState: string | undefined,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'DbError';
  }

  /** Whether the same statement may succeed later: true unless a row is at fault. */
  get retryable(): boolean {
    return this.kind !== 'row';
  }
}

const NO_PARTITION = /no partition of relation/;

/** Classifies any error thrown by a query (a DbError is returned as it is). */
export function classifyDbError(err: unknown): DbError {
  if (err instanceof DbError) return err;
  const state = sqlState(err);
  const message = errorMessage(err);
  let kind: DbErrorKind = 'transient';
  if (state === '23514' && NO_PARTITION.test(message)) kind = 'missing-partition';
  else if (state !== undefined && (state.startsWith('22') || state.startsWith('23'))) kind = 'row';
  return new DbError(kind, state, message, { cause: err });
}
