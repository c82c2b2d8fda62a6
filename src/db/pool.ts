// The PostgreSQL pool, configured once. Every connection names the worker and bounds statements.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Config } from '../config.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (int8) and numeric come back as strings by default; counts and offsets fit in a double
// up to 2^53, and offsets are kept as strings where they are compared.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(db: Config['db'] & { url: string }, applicationName = 'orchestry-ingest'): Pool {
  const ssl =
    db.ssl === 'disable'
      ? undefined
      : { rejectUnauthorized: db.ssl === 'verify-full', ...(db.sslCaFile ? { ca: readFileSync(db.sslCaFile, 'utf8') } : {}) };
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
