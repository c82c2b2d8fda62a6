// Typed errors with stable codes. `retryable` decides what the caller does: retry/pause the
// consumer (true), or dead-letter the message / fail the job (false). A dead-letter code (the
// decoder's E_JSON .. E_INTERNAL, the writer's E_DB_REJECTED) means one thing only; PostgreSQL
// errors are classified in src/db/errors.ts (DbError carries E_DB_REJECTED or E_DB_UNAVAILABLE).

export type ErrorCode =
  | 'E_CONFIG'
  | 'E_JSON'
  | 'E_UTF8'
  | 'E_TOO_LARGE'
  | 'E_DECOMPRESS'
  | 'E_SCHEMA'
  | 'E_VERSION'
  | 'E_OUT_OF_RANGE'
  | 'E_NUL_BYTE'
  | 'E_DB_REJECTED'
  | 'E_PLACEHOLDER_LIMIT'
  | 'E_DB_UNAVAILABLE'
  | 'E_FENCED'
  | 'E_JOB_RUNNING'
  | 'E_JOB_UNKNOWN'
  /** A job's parameters do not parse (CLI exit 2, HTTP 400); never a dead-letter code. */
  | 'E_JOB_PARAMS'
  | 'E_MIGRATION_CHANGED'
  | 'E_ARCHIVE_CORRUPT'
  | 'E_ARCHIVE_MISSING'
  | 'E_ARCHIVE_REFUSED'
  | 'E_INTERNAL';

export class IngestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IngestError';
  }
}

/** The SQLSTATE of a PostgreSQL error, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
