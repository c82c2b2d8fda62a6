// The PostgreSQL pool, configured once. Every connection names the worker and bounds statements.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** What a pool is made from: the URL it connects to and the DATABASE_* settings. */
export interface PoolOptions {
  url: string;
  poolMax: number;
  ssl: 'disable' | 'require' | 'verify-full';
  sslCaFile: string | undefined;
  /** 0 leaves statements unbounded. */
  statementTimeoutMs: number;
}

// bigint (int8) and numeric come back as strings by default; counts and offsets fit in a double
// up to 2^53, and offsets are kept as strings where they are compared.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * TLS options for DATABASE_SSL, as libpq means them: `require` encrypts without checking the
 * certificate; `verify-full` checks the chain (against DATABASE_SSL_CA_FILE, else the system CAs) and
 * that the certificate names the host of the URL (pg passes the host to tls.connect, IPs included).
 */
function sslOptions(db: Pick<PoolOptions, 'ssl' | 'sslCaFile'>): ConnectionOptions | undefined {
  if (db.ssl === 'disable') return undefined;
  return { rejectUnauthorized: db.ssl === 'verify-full', ...(db.sslCaFile ? { ca: readFileSync(db.sslCaFile, 'utf8') } : {}) };
}

/** The application_name of the probe pool's connection (seen in pg_stat_activity). */
export const PROBE_APPLICATION_NAME = 'orchestry-ingest-probe';

/**
 * A one-connection pool for readiness checks, apart from the ingest pool: however many clients
 * probe, batches never wait behind a probe, and a probe waits for no batch. Its statements and
 * connection attempts are bounded by `timeoutMs`.
 */
export function createProbePool(db: PoolOptions, timeoutMs: number): Pool {
  const pool = new pg.Pool({
    connectionString: db.url,
    max: 1,
    ssl: sslOptions(db),
    application_name: PROBE_APPLICATION_NAME,
    statement_timeout: timeoutMs,
    connectionTimeoutMillis: timeoutMs,
    idleTimeoutMillis: 60_000,
  });
  pool.on('error', () => {});
  return pool;
}

export function createPool(db: PoolOptions, applicationName = 'orchestry-ingest'): Pool {
  const ssl = sslOptions(db);
  const pool = new pg.Pool({
    connectionString: db.url,
    max: db.poolMax,
    ssl,
    application_name: applicationName,
    statement_timeout: db.statementTimeoutMs || undefined,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener the
  // process would crash. The next query reports the failure to its caller instead.
  pool.on('error', () => {});
  return pool;
}
