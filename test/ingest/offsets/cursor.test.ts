// The cursor of stored offsets against PostgreSQL: messages below the stored offset are skipped,
// Kafka ahead of it seeks back once per group generation, a re-read notices another worker.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OffsetCursor } from '../../../src/ingest/offsets/cursor.ts';
import { loadStoredOffset } from '../../../src/ingest/offsets/store.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';

let db: TestDatabase;

before(async () => {
  db = await freshDatabase();
});

after(async () => {
  await db?.drop();
});

const at = (...offsets: number[]) => offsets.map((o) => ({ offset: String(o) }));
const setStored = (topic: string, offset: number) => db.pool.query('UPDATE ingest_offsets SET next_offset = $2 WHERE topic = $1 AND partition = 0', [topic, offset]);

test('messages below the stored offset are duplicates; a new partition starts where Kafka does', async () => {
  const cursor = new OffsetCursor(db.pool, 'w1');
  assert.deepEqual(await cursor.resume('t-dup', 0, at(5, 6, 7)), { kind: 'fresh', from: 5n, fresh: at(5, 6, 7), duplicates: 0 });
  cursor.advanced('t-dup', 0, 7n);
  assert.deepEqual(await cursor.resume('t-dup', 0, at(5, 6, 7, 8)), { kind: 'fresh', from: 7n, fresh: at(7, 8), duplicates: 2 });
});

test('Kafka ahead of the stored offset seeks back once, and again after a new group generation', async () => {
  const cursor = new OffsetCursor(db.pool, 'w1');
  await loadStoredOffset(db.pool, 't-seek', 0, '3', 'w1');
  assert.deepEqual(await cursor.resume('t-seek', 0, at(10, 11)), { kind: 'seek', offset: 3n, fetched: 10n });
  assert.deepEqual(await cursor.resume('t-seek', 0, at(10, 11)), { kind: 'fresh', from: 3n, fresh: at(10, 11), duplicates: 0 }, 'only once');
  cursor.reset();
  assert.equal((await cursor.resume('t-seek', 0, at(10))).kind, 'seek');
});

test('a re-read finds whether another worker moved the offset; recovery caches where it now stands', async () => {
  const cursor = new OffsetCursor(db.pool, 'w1');
  await cursor.resume('t-moved', 0, at(0));
  assert.equal(await cursor.stillAt('t-moved', 0, 0n), true);
  await setStored('t-moved', 40);
  assert.equal(await cursor.stillAt('t-moved', 0, 0n), false);
  assert.equal(await cursor.recover('t-moved', 0), 40n);
  assert.deepEqual(await cursor.resume('t-moved', 0, at(40)), { kind: 'fresh', from: 40n, fresh: at(40), duplicates: 0 });
});
