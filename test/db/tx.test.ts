// The one transaction helper and the one connection guard (src/db/tx.ts, src/db/guard.ts): a
// connection whose server goes away between two statements neither crashes the process nor goes
// back to the pool; the job locks (src/scheduler/job-locks.ts) share one guarded connection.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { withClient, withTransaction } from '../../src/db/tx.ts';
import { createJobLocks } from '../../src/scheduler/job-locks.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
let pool: Pool;

before(async () => {
  db = await freshDatabase({ migrated: false });
  pool = createPool({ url: db.url, poolMax: 2, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
});
after(async () => {
  await pool?.end();
  await db?.drop();
});

const pidOf = async (q: { query: Pool['query'] }) => (await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
const terminate = (pid: number) => db.pool.query('SELECT pg_terminate_backend($1)', [pid]);

test('a transaction whose connection is terminated between statements rejects, and the connection is not reused', async () => {
  let lostPid = 0;
  await assert.rejects(
    withTransaction(pool, async (c) => {
      lostPid = await pidOf(c);
      await terminate(lostPid);
      await new Promise((r) => setTimeout(r, 300)); // the 'error' event arrives while no query runs
      await c.query('SELECT 1');
    }),
  );
  const pids = await Promise.all([withTransaction(pool, pidOf), withTransaction(pool, pidOf)]);
  assert.ok(!pids.includes(lostPid), `pids ${pids.join(', ')} include the terminated ${lostPid}`);
});

test('withClient does not return a connection after an error without a code', async () => {
  let pid = 0;
  await assert.rejects(
    withClient(pool, async (c) => {
      pid = await pidOf(c);
      throw new Error('not a server error');
    }),
  );
  const pids = await Promise.all([withClient(pool, pidOf), withClient(pool, pidOf)]);
  assert.ok(!pids.includes(pid));
});

test('job locks: one holder at a time; a lock connection that was lost is replaced at the next lock', async () => {
  const a = createJobLocks(pool);
  const b = createJobLocks(pool);
  assert.equal(await a.tryLock('job-x'), true);
  assert.equal(await b.tryLock('job-x'), false);
  assert.equal(await a.tryLock('job-y'), true, 'a second job on the same lock connection');
  await a.unlock('job-x');
  assert.equal(await b.tryLock('job-x'), true);
  await b.unlock('job-x');
  const holders = await db.pool.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  assert.equal(holders.rows.length, 1, 'only job-y is held');
  await terminate(holders.rows[0]!.pid);
  await new Promise((r) => setTimeout(r, 300));
  await a.unlock('job-y'); // the session is gone with its lock: nothing to do, no throw
  assert.equal(await b.tryLock('job-y'), true);
  assert.equal(await a.tryLock('job-z'), true, 'a new lock connection');
  await b.unlock('job-y');
  await a.unlock('job-z');
});
