// Stored offsets against PostgreSQL: a missing row is made at the initial offset, the
// compare-and-set advances only from the offset it expects, and a mismatch is E_FENCED.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withTransaction } from '../../../src/db/tx.ts';
import { IngestError } from '../../../src/errors.ts';
import { advanceOffset, loadStoredOffset } from '../../../src/ingest/offsets/store.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';

let db: TestDatabase;

before(async () => {
  db = await freshDatabase();
});

after(async () => {
  await db?.drop();
});

const row = async (topic: string) =>
  (await db.pool.query<{ next_offset: string; updated_by: string }>('SELECT next_offset::text, updated_by FROM ingest_offsets WHERE topic = $1 AND partition = 0', [topic])).rows;

test('loading a missing row makes it at the initial offset; a row that exists keeps its offset', async () => {
  assert.deepEqual(await row('t-load'), []);
  assert.equal(await loadStoredOffset(db.pool, 't-load', 0, '42', 'w1'), 42n);
  assert.deepEqual(await row('t-load'), [{ next_offset: '42', updated_by: 'w1' }]);
  assert.equal(await loadStoredOffset(db.pool, 't-load', 0, '0', 'w2'), 42n, 'the initial offset only applies to a new row');
  assert.deepEqual(await row('t-load'), [{ next_offset: '42', updated_by: 'w1' }]);
});

test('the compare-and-set advances from the offset it expects, in the caller transaction', async () => {
  await loadStoredOffset(db.pool, 't-cas', 0, '10', 'w1');
  await withTransaction(db.pool, (client) => advanceOffset(client, 't-cas', 0, 10n, 25n, 'w2'));
  assert.deepEqual(await row('t-cas'), [{ next_offset: '25', updated_by: 'w2' }]);
  // Rolled back with its transaction.
  await assert.rejects(
    withTransaction(db.pool, async (client) => {
      await advanceOffset(client, 't-cas', 0, 25n, 30n, 'w3');
      throw new Error('the rest of the batch failed');
    }),
    /the rest of the batch failed/,
  );
  assert.deepEqual(await row('t-cas'), [{ next_offset: '25', updated_by: 'w2' }]);
});

test('a compare-and-set from an offset that is no longer stored is E_FENCED and changes nothing', async () => {
  await loadStoredOffset(db.pool, 't-fence', 0, '100', 'w1');
  for (const from of [99n, 101n]) {
    await assert.rejects(
      withTransaction(db.pool, (client) => advanceOffset(client, 't-fence', 0, from, 200n, 'w2')),
      (err: unknown) => err instanceof IngestError && err.code === 'E_FENCED' && !err.retryable,
    );
  }
  await assert.rejects(
    withTransaction(db.pool, (client) => advanceOffset(client, 't-none', 0, 0n, 1n, 'w2')),
    (err: unknown) => err instanceof IngestError && err.code === 'E_FENCED',
    'no row at all is fenced too',
  );
  assert.deepEqual(await row('t-fence'), [{ next_offset: '100', updated_by: 'w1' }]);
});
