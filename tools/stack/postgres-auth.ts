// Password authentication for the local PostgreSQL: a generated password kept under the stack root
// (mode 0600), scram-sha-256 for every connection, and a data dir made with trust moved over on start.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';

/** The whole pg_hba.conf of the local stack: a password for every connection, local or TCP. */
const HBA = `# Written by tools/stack/postgres-auth.ts: every connection needs the password in ../password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
`;

/** The stack's PostgreSQL password file, `<dir>/password`: read, or made (random, 0600) the first time. */
export async function stackPassword(dir: string): Promise<{ password: string; file: string }> {
  const file = join(dir, 'password');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return { password: existing, file };
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return { password, file };
}

/** initdb arguments for a superuser `postgres` with the password in `file`, scram-sha-256 everywhere. */
export const initdbAuthArgs = (file: string): string[] => ['-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${file}`];

/**
 * Makes sure the running server asks for the password: when its pg_hba.conf is not ours (a data dir
 * made with `--auth=trust` before passwords were used), sets the password and rewrites it, then reloads.
 */
export async function enforcePasswordAuth(client: pg.Client, dataDir: string, password: string, log: (line: string) => void): Promise<void> {
  const hbaFile = join(dataDir, 'pg_hba.conf');
  if ((await readFile(hbaFile, 'utf8').catch(() => '')) === HBA) return;
  await client.query(`ALTER ROLE postgres PASSWORD ${client.escapeLiteral(password)}`);
  await writeFile(hbaFile, HBA); // an existing file keeps its owner (the server's user)
  await client.query('SELECT pg_reload_conf()');
  log('postgres: password authentication (scram-sha-256) for every connection');
}
