// src/partitions/day-partitions.ts (ingestion's Partitions) against PostgreSQL: the days of the
// given instants are made and cached per instance, today's events day is always made, and a day
// that was archived, is left detached, or cannot be made is reported unavailable, never made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DayPartitions, dayStartMs, isAttached, partitionName } from '../../src/partitions/index.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { holdLock, otherPool, useFreshDatabase } from './helpers.ts';

let db: TestDatabase;
useFreshDatabase((d) => (db = d));

const at = (day: string, hour = 12) => dayStartMs(day) + hour * 3_600_000;

/** Runs `fn` counting the statements and connections it asks of the test pool. */
async function counted(fn: () => Promise<unknown>): Promise<number> {
  const pool = db.pool as unknown as Record<'query' | 'connect', (...a: unknown[]) => unknown>;
  const { query, connect } = pool;
  let n = 0;
  pool.query = (...a) => (n++, query.apply(db.pool, a));
  pool.connect = (...a) => (n++, connect.apply(db.pool, a));
  try {
    await fn();
  } finally {
    pool.query = query;
    pool.connect = connect;
  }
  return n;
}

test('the days of the instants get their partitions (both metrics leaves) and today\'s events day too', async () => {
  const parts = new DayPartitions(db.pool, { now: () => at('2070-06-15') });
  const unavailable = await parts.ensureDays('metrics', [at('2070-06-01'), at('2070-06-01', 23), at('2070-06-02', 0)]);
  assert.deepEqual([...unavailable], []);
  for (const day of ['2070-06-01', '2070-06-02']) {
    assert.ok(await isAttached(db.pool, 'metrics', partitionName('metrics', day)));
    assert.ok(await isAttached(db.pool, partitionName('metrics', day), partitionName('metrics', day, 'instance')));
    assert.ok(await isAttached(db.pool, partitionName('metrics', day), partitionName('metrics', day, 'app')));
  }
  assert.ok(await isAttached(db.pool, 'events', 'events_p20700615'), 'today\'s events day, for placeholder registrations');
});

test('an ensured day is cached per instance: asking again sends nothing until forget()', async () => {
  const parts = new DayPartitions(db.pool, { now: () => at('2070-07-15') });
  await parts.ensureDays('events', [at('2070-07-01')]);
  assert.equal(await counted(() => parts.ensureDays('events', [at('2070-07-01', 3), at('2070-07-01', 20)])), 0);
  parts.forget();
  assert.ok((await counted(() => parts.ensureDays('events', [at('2070-07-01')]))) > 0, 'after forget() the day is checked again');
  // Another instance has a cache of its own.
  const other = new DayPartitions(db.pool, { now: () => at('2070-07-15') });
  assert.ok((await counted(() => other.ensureDays('events', [at('2070-07-01')]))) > 0, 'a second instance checks for itself');
});

test('a day archive_ledger has taken is refused and not made again', async () => {
  await db.pool.query(
    `INSERT INTO archive_ledger (partition, generation, parent, day, state) VALUES ('metrics_p20700801_instance', 1, 'metrics_p20700801', '2070-08-01', 'dropped'), ('events_p20700802', 1, 'events', '2070-08-02', 'dropped')`,
  );
  const parts = new DayPartitions(db.pool, { now: () => at('2070-08-15') });
  assert.deepEqual([...(await parts.ensureDays('metrics', [at('2070-08-01'), at('2070-08-03')]))], ['2070-08-01']);
  assert.deepEqual([...(await parts.ensureDays('events', [at('2070-08-02')]))], ['2070-08-02']);
  const { rows } = await db.pool.query(`SELECT to_regclass('metrics_p20700801') AS m, to_regclass('events_p20700802') AS e`);
  assert.deepEqual(rows[0], { m: null, e: null });
  assert.ok(await isAttached(db.pool, 'metrics', 'metrics_p20700803'));
});

test('a day whose partition or instance leaf is left detached takes no rows', async () => {
  const parts = new DayPartitions(db.pool, { now: () => at('2070-09-15') });
  await parts.ensureDays('metrics', [at('2070-09-01')]);
  await parts.ensureDays('events', [at('2070-09-02')]);
  await db.pool.query('ALTER TABLE metrics_p20700901 DETACH PARTITION metrics_p20700901_instance');
  await db.pool.query('ALTER TABLE events DETACH PARTITION events_p20700902');
  const fresh = new DayPartitions(db.pool, { now: () => at('2070-09-15') });
  assert.deepEqual([...(await fresh.ensureDays('metrics', [at('2070-09-01')]))], ['2070-09-01']);
  assert.deepEqual([...(await fresh.ensureDays('events', [at('2070-09-02')]))], ['2070-09-02']);
});

test('a day that cannot be made (bounds overlapping another partition: 42P17) is unavailable, not an error', async () => {
  await db.pool.query(`CREATE TABLE events_odd PARTITION OF events FOR VALUES FROM ('2070-10-01') TO ('2070-10-03')`);
  const parts = new DayPartitions(db.pool, { now: () => at('2070-10-15') });
  assert.deepEqual([...(await parts.ensureDays('events', [at('2070-10-02'), at('2070-10-05')]))], ['2070-10-02']);
  assert.ok(await isAttached(db.pool, 'events', 'events_p20701005'));
});

test('a lock held on the parent past the lock timeout fails the call (a retryable error), it does not mark the day unavailable', async () => {
  const held = await holdLock(db.url, 'events', 'ACCESS EXCLUSIVE');
  const parts = new DayPartitions(db.pool, { now: () => at('2070-11-01'), lockTimeoutMs: 100, attempts: 2, maxBackoffMs: 50 });
  try {
    await assert.rejects(parts.ensureDays('events', [at('2070-11-01')]), (err: { code?: string }) => err.code === '55P03');
  } finally {
    await held.release();
  }
  assert.deepEqual([...(await parts.ensureDays('events', [at('2070-11-01')]))], []);
});

test('two instances on two pools ensuring the same days at once agree', async () => {
  const other = otherPool(db.url);
  try {
    const ts = [at('2071-01-01'), at('2071-01-02'), at('2071-01-03')];
    const results = await Promise.all([db.pool, other, db.pool, other].map((p) => new DayPartitions(p, { now: () => at('2071-01-04') }).ensureDays('metrics', ts)));
    for (const r of results) assert.deepEqual([...r], []);
    for (const d of ['2071-01-01', '2071-01-02', '2071-01-03']) assert.ok(await isAttached(db.pool, partitionName('metrics', d), partitionName('metrics', d, 'instance')));
  } finally {
    await other.end();
  }
});
