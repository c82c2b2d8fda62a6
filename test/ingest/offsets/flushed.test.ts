// The flush watch (Kafka's offset never leads a durable stored offset) against the real server: with
// wal_writer_delay at 3 s, an asynchronous commit stays unflushed for seconds, and flushed() waits
// for it; a synchronous commit elsewhere flushes it sooner, and the watch notices.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withTransaction } from '../../../src/db/tx.ts';
import { FlushWatch, lsnOf } from '../../../src/ingest/offsets/flushed.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';

let db: TestDatabase;

before(async () => {
  db = await freshDatabase();
  await db.pool.query('CREATE TABLE flush_probe (n int)');
  await db.pool.query(`ALTER SYSTEM SET wal_writer_delay = '3s'`);
  await db.pool.query('SELECT pg_reload_conf()');
});

after(async () => {
  await db?.pool.query('ALTER SYSTEM RESET wal_writer_delay').catch(() => {});
  await db?.pool.query('SELECT pg_reload_conf()').catch(() => {});
  await db?.drop();
});

const positions = async () => {
  const { rows } = await db.pool.query<{ insert: string; flush: string }>('SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush');
  return { insert: lsnOf(rows[0]!.insert), flush: lsnOf(rows[0]!.flush) };
};
const asyncCommit = (n: number) => withTransaction(db.pool, (c) => c.query('INSERT INTO flush_probe VALUES ($1)', [n]), { synchronous_commit: 'off' });

/** An asynchronous commit left unflushed: the first wakes an idle WAL writer (which flushes), the second waits for its next round. */
async function unflushedCommit(): Promise<{ insert: bigint; flush: bigint } | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await asyncCommit(attempt);
    await new Promise((r) => setTimeout(r, 100));
    await asyncCommit(attempt);
    const p = await positions();
    if (p.flush < p.insert) return p;
  }
  return undefined;
}

test('LSNs order as numbers: the high word first, then the low one', () => {
  assert.equal(lsnOf('0/0'), 0n);
  assert.equal(lsnOf('16/B374D848'), (0x16n << 32n) + 0xb374d848n);
  assert.ok(lsnOf('1/0') > lsnOf('0/FFFFFFFF'));
  assert.ok(lsnOf('A/10') < lsnOf('A/100'));
});

test('flushed() waits until the WAL is flushed past every commit made before the call', async () => {
  const before = await unflushedCommit();
  assert.ok(before, 'an asynchronous commit stayed unflushed (wal_writer_delay 3 s)');
  const t0 = Date.now();
  await new FlushWatch(db.pool, true, 20).flushed();
  const waited = Date.now() - t0;
  const after = await positions();
  assert.ok(after.flush >= before.insert, `flushed past ${before.insert} (now ${after.flush})`);
  assert.ok(waited >= 50, `it waited for the WAL writer (${waited} ms)`);
});

test('a synchronous commit elsewhere flushes the WAL before the WAL writer does, and the waiters go at once', async () => {
  const before = await unflushedCommit();
  assert.ok(before, 'an asynchronous commit stayed unflushed (wal_writer_delay 3 s)');
  const watch = new FlushWatch(db.pool, true, 20);
  const t0 = Date.now();
  const waiting = [watch.flushed(), watch.flushed(), watch.flushed()];
  await new Promise((r) => setTimeout(r, 200));
  await withTransaction(db.pool, (c) => c.query('INSERT INTO flush_probe VALUES (0)'), { synchronous_commit: 'on' });
  await Promise.all(waiting);
  const waited = Date.now() - t0;
  assert.ok(waited < 2000, `released by the synchronous commit, not the WAL writer's 3 s (${waited} ms)`);
  assert.ok((await positions()).flush >= before.insert);
});

test('with synchronous commits there is nothing to wait for: no query at all', async () => {
  const watch = new FlushWatch({ query: () => Promise.reject(new Error('no query expected')) } as never, false);
  await watch.flushed();
});
