// One fresh database per test file, cloned from a migrated template (graphile-worker's pattern).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pool.ts';

const TEMPLATE = 'orchestry_test_template';

export function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which brings up the local stack');
  return url;
}

export function urlFor(database: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${database}`;
  return u.toString();
}

/** One statement on the server's admin database (CREATE/DROP DATABASE, roles). */
export async function adminQuery<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Creates (once per run, under a lock) the migrated template database. */
async function ensureTemplate(): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(724001)');
    const { rows } = await client.query<{ ok: boolean }>('SELECT true AS ok FROM pg_database WHERE datname = $1', [TEMPLATE]);
    // Rebuilt when older than today (its partitions are made relative to the day it was made).
    const stale = rows.length > 0 && (await templateIsStale());
    if (stale) await client.query(`DROP DATABASE ${TEMPLATE}`);
    if (rows.length === 0 || stale) {
      await client.query(`CREATE DATABASE ${TEMPLATE}`);
      const pool = createPool({ url: urlFor(TEMPLATE), poolMax: 2, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(724001)').catch(() => {});
    await client.end();
  }
}

async function templateIsStale(): Promise<boolean> {
  const client = new pg.Client({ connectionString: urlFor(TEMPLATE) });
  await client.connect();
  try {
    const { rows } = await client.query<{ stale: boolean }>(
      `SELECT coalesce(max(applied_at) < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', true) AS stale FROM orchestry_migrations`,
    );
    // A template made by other migration files (added or edited) is stale too.
    const { rows: applied } = await client.query<{ id: number; checksum: string }>('SELECT id, checksum FROM orchestry_migrations ORDER BY id');
    const { readMigrations } = await import('../../src/db/migrate.ts');
    const files = readMigrations();
    const same = applied.length === files.length && files.every((m, i) => applied[i]?.checksum === m.checksum);
    return Boolean(rows[0]?.stale) || !same;
  } catch {
    return true;
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A new database with every migration applied. `migrated: false` gives an empty one. */
export async function freshDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  if (opts.migrated === false) {
    await adminQuery(`CREATE DATABASE ${name}`);
  } else {
    await ensureTemplate();
    await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  }
  const url = urlFor(name);
  const pool = createPool({ url, poolMax: 10, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
