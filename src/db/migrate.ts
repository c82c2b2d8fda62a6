// Numbered, append-only SQL migrations (migrations/NNNNNN_name.sql), each applied in one
// transaction together with its ledger row. A session advisory lock serialises concurrent
// migrators; a checksum per applied file refuses to run when an applied file was edited.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngestError } from '../errors.ts';
import type { Pool, PoolClient } from './pool.ts';

// src/db/ in the sources, dist/src/db/ when compiled: the migrations folder is at the package root.
const here = dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_DIR = [join(here, '..', '..', 'migrations'), join(here, '..', '..', '..', 'migrations')].find((d) => existsSync(d)) ?? join(here, '..', '..', 'migrations');
const LOCK_KEY = 0x6f726368; // 'orch'

export interface Migration {
  id: number;
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((name, i) => {
    const id = Number(name.slice(0, 6));
    if (id !== i + 1) throw new Error(`migrations must be numbered 1..n without gaps: ${name} is number ${i + 1}`);
    const sql = readFileSync(join(dir, name), 'utf8');
    return { id, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
}

async function ensureLedger(client: PoolClient): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS orchestry_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
  )`);
}

function checkApplied(applied: { id: number; name: string; checksum: string }[], migrations: Migration[]): void {
  for (const row of applied) {
    const m = migrations.find((x) => x.id === row.id);
    if (!m) {
      throw new IngestError('E_MIGRATION_CHANGED', `database has migration ${row.name} that this worker does not know: it is newer than this code`);
    }
    if (m.checksum !== row.checksum) {
      throw new IngestError('E_MIGRATION_CHANGED', `applied migration ${m.name} was edited (checksum ${row.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk); add a new migration instead`);
    }
  }
}

/** Applies pending migrations; returns the names applied (empty when the schema is current). */
export async function migrate(pool: Pool, opts: { dir?: string; log?: (msg: string) => void } = {}): Promise<string[]> {
  const migrations = readMigrations(opts.dir);
  const client = await pool.connect();
  const done: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await ensureLedger(client);
      const { rows } = await client.query<{ id: number; name: string; checksum: string }>('SELECT id, name, checksum FROM orchestry_migrations ORDER BY id');
      checkApplied(rows, migrations);
      for (const m of migrations.filter((x) => !rows.some((r) => r.id === x.id))) {
        opts.log?.(`applying migration ${m.name}`);
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO orchestry_migrations (id, name, checksum) VALUES ($1, $2, $3)', [m.id, m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        done.push(m.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
  return done;
}

let shipped: Migration[] | undefined;

/** The migrations shipped with this code, read and hashed once per process (they do not change under it). */
function shippedMigrations(): Migration[] {
  shipped ??= readMigrations();
  return shipped;
}

/**
 * Pending migrations and whether applied ones are intact, for /readyz and `migrate --status`: against
 * the shipped migrations (read once), or those of `dir`.
 */
export async function migrationStatus(pool: Pool, dir?: string): Promise<{ current: boolean; pending: string[]; applied: number }> {
  const migrations = dir === undefined ? shippedMigrations() : readMigrations(dir);
  const { rows: exists } = await pool.query<{ t: string | null }>(`SELECT to_regclass('orchestry_migrations')::text AS t`);
  if (!exists[0]?.t) return { current: false, pending: migrations.map((m) => m.name), applied: 0 };
  const { rows } = await pool.query<{ id: number; name: string; checksum: string }>('SELECT id, name, checksum FROM orchestry_migrations ORDER BY id');
  checkApplied(rows, migrations);
  const pending = migrations.filter((m) => !rows.some((r) => r.id === m.id)).map((m) => m.name);
  return { current: pending.length === 0, pending, applied: rows.length };
}
