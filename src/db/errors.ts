// PostgreSQL errors classified once, by SQLSTATE: each becomes a typed error with a stable code
// that says whether a retry can help. The ingest retry policy, the batch splitter, the DDL lock
// retries and the connection guard ask this module; nothing else reads SQLSTATEs to decide.
import { errorMessage, sqlState, type ErrorCode } from '../errors.ts';

export type DbErrorKind =
  /** A row is at fault (class 22 data exception, class 23 constraint): isolate it and dead-letter it. */
  | 'row'
  /** A row's day has no partition to go to (23514 "no partition of relation"): re-check the day, then retry. */
  | 'missing-partition'
  /** Anything else (connection loss 08, shutdown 57P, resources 53, serialization 40, timeouts): retry. */
  | 'transient';

export class DbError extends Error {
  /** E_DB_REJECTED for a row at fault (its dead-letter code), E_DB_UNAVAILABLE for anything a retry may cure. */
  readonly code: Extract<ErrorCode, 'E_DB_REJECTED' | 'E_DB_UNAVAILABLE'>;

  constructor(
    readonly kind: DbErrorKind,
    readonly sqlState: string | undefined,
    message: string,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'DbError';
    this.code = kind === 'row' ? 'E_DB_REJECTED' : 'E_DB_UNAVAILABLE';
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

/** 55P03 lock_not_available (lock_timeout ran out) and 40P01 deadlock_detected. */
const LOCK_CONTENTION = new Set(['55P03', '40P01']);

/**
 * Whether a statement failed only because it could not get its locks in time (lock_timeout) or
 * was chosen as a deadlock victim: DDL under a lock timeout retries those, and nothing else.
 */
export function isLockContention(err: unknown): boolean {
  const state = err instanceof DbError ? err.sqlState : sqlState(err);
  return state !== undefined && LOCK_CONTENTION.has(state);
}

/**
 * 23505 unique_violation on the catalog, 42710 duplicate_object (the row type), 42P07
 * duplicate_table: what the later of two sessions creating the same table at once gets.
 */
const CATALOG_RACE = new Set(['23505', '42710', '42P07']);

/** Whether a CREATE lost a race to another session making the same object: a retry finds it made. */
export function isCatalogRace(err: unknown): boolean {
  const state = err instanceof DbError ? err.sqlState : sqlState(err);
  return state !== undefined && CATALOG_RACE.has(state);
}

/**
 * Whether a connection that saw `err` may be unusable: an error with no code at all did not come
 * from the server (nor from a socket the driver names), so the client is not trusted again.
 */
export function connectionSuspect(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === undefined;
}
