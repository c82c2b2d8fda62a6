// The local stack's PostgreSQL asks every connection for its generated password (kept under the
// stack root, mode 0600), including a data dir first made with trust authentication.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startPostgres, stopPostgres } from '../../tools/stack/postgres.ts';
import type { PostgresState } from '../../tools/stack/state.ts';

let root: string;
let state: PostgresState;
const log = () => {};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'orchestry-pg-auth-'));
  state = await startPostgres(root, undefined, log);
});

after(async () => {
  await stopPostgres(root, log).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

/** Connects and runs SELECT 1; resolves to the SQLSTATE of the refusal, or 'ok'. */
async function attempt(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The server asked for a password the client did not have (pg stops before sending), or refused the one sent. */
const REFUSED = /^28P01$|client password must be a string/;

const withPassword = (url: string, password: string | undefined) => {
  const u = new URL(url);
  u.password = password ?? '';
  return u.toString();
};

test('the URL the stack gives carries the generated password, which is stored 0600 under the stack root', async () => {
  const file = join(root, 'postgres', 'password');
  const stored = (await readFile(file, 'utf8')).trim();
  assert.ok(stored.length >= 24);
  assert.equal(decodeURIComponent(new URL(state.url).password), stored);
  assert.equal((await stat(file)).mode & 0o077, 0, 'no access for group or others');
  assert.equal(await attempt(state.url), 'ok');
});

test('a connection without the password, or with a wrong one, is refused', async () => {
  assert.match(await attempt(withPassword(state.url, undefined)), REFUSED);
  assert.equal(await attempt(withPassword(state.url, 'not-the-password')), '28P01');
});

test('a data dir left with trust authentication asks for the password again after the next start', { timeout: 120_000 }, async () => {
  const hba = join(root, 'postgres', 'data', 'pg_hba.conf');
  await writeFile(hba, 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  const admin = new pg.Client({ connectionString: state.url });
  await admin.connect();
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
  assert.equal(await attempt(withPassword(state.url, undefined)), 'ok', 'trust, as a data dir made before passwords were used');

  state = await startPostgres(root, state.port, log);
  assert.match(await attempt(withPassword(state.url, undefined)), REFUSED);
  assert.equal(await attempt(withPassword(state.url, 'not-the-password')), '28P01');
  assert.equal(await attempt(state.url), 'ok');
});
