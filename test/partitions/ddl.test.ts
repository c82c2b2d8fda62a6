// src/partitions/ddl.ts against PostgreSQL: ensure is idempotent and safe from two pools at once,
// every statement gives up on a lock after lock_timeout (and retries while it may), detach (also
// finishing an interrupted DETACH CONCURRENTLY), drop, and ensure attaching a day made again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import {
  detachAndDrop,
  detachPartition,
  dropEmptyMetricDays,
  dropTable,
  ensureDayPartitions,
  isAttached,
  listChildren,
  partitionName,
} from '../../src/partitions/index.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { holdLock, otherPool, useFreshDatabase } from './helpers.ts';

let db: TestDatabase;
useFreshDatabase((d) => (db = d));

const FAST = { lockTimeoutMs: 200, attempts: 2, maxBackoffMs: 100 };

const names = async (parent: string) => (await listChildren(db.pool, parent)).map((c) => c.name);

test('ensure makes the day with both metrics leaves, and a second ensure changes nothing', async () => {
  const days = ['2080-01-01', '2080-01-02'];
  await ensureDayPartitions(db.pool, 'metrics', days);
  const snapshot = async () => (await db.pool.query<{ oid: number; relname: string }>(`SELECT oid::int AS oid, relname FROM pg_class WHERE relname LIKE 'metrics_p2080%' AND relkind IN ('r', 'p') ORDER BY relname`)).rows;
  const first = await snapshot();
  assert.deepEqual(first.map((r) => r.relname), ['metrics_p20800101', 'metrics_p20800101_app', 'metrics_p20800101_instance', 'metrics_p20800102', 'metrics_p20800102_app', 'metrics_p20800102_instance']);
  await ensureDayPartitions(db.pool, 'metrics', days);
  assert.deepEqual(await snapshot(), first, 'the same tables (same oids): nothing dropped or made again');
  // Levels pick the leaves: only the app leaf of a new day.
  await ensureDayPartitions(db.pool, 'metrics', ['2080-01-03'], ['app']);
  assert.deepEqual(await names(partitionName('metrics', '2080-01-03')), ['metrics_p20800103_app']);
  await ensureDayPartitions(db.pool, 'events', []);
});

test('two pools ensuring the same days at once both succeed and make each partition once', async () => {
  const other = otherPool(db.url);
  try {
    const days = Array.from({ length: 6 }, (_, i) => `2081-03-0${i + 1}`);
    const runs = [db.pool, other, db.pool, other].flatMap((p) => (['metrics', 'events', 'metric_rollups'] as const).map((parent) => ensureDayPartitions(p, parent, days)));
    await Promise.all(runs);
    for (const parent of ['metrics', 'events', 'metric_rollups'] as const) {
      const made = (await names(parent)).filter((n) => n.includes('_p2081'));
      assert.deepEqual(made, days.map((d) => partitionName(parent, d)));
    }
    for (const d of days) assert.deepEqual(await names(partitionName('metrics', d)), [partitionName('metrics', d, 'app'), partitionName('metrics', d, 'instance')]);
  } finally {
    await other.end();
  }
});

test('ensure gives up after lock_timeout while another session holds a lock on the parent, and leaves the session as it found it', async () => {
  const held = await holdLock(db.url, 'events', 'ACCESS EXCLUSIVE');
  const t0 = Date.now();
  try {
    await assert.rejects(ensureDayPartitions(db.pool, 'events', ['2082-01-01'], undefined, FAST), (err: { code?: string }) => err.code === '55P03');
  } finally {
    await held.release();
  }
  const waited = Date.now() - t0;
  // Two tries of 200 ms each and one pause of 100 ms; nowhere near a statement left waiting.
  assert.ok(waited >= 400 && waited < 3000, `waited ${waited} ms`);
  const { rows } = await db.pool.query<{ lt: string }>(`SELECT current_setting('lock_timeout') AS lt`);
  assert.equal(rows[0]!.lt, '0', 'lock_timeout is reset on the pooled connection');
  assert.deepEqual((await names('events')).filter((n) => n.includes('_p2082')), []);
});

test('ensure retries while the lock is held and succeeds once it is released', async () => {
  const held = await holdLock(db.url, 'events', 'ACCESS EXCLUSIVE');
  const release = new Promise<void>((resolve) => setTimeout(() => void held.release().then(resolve), 600));
  await ensureDayPartitions(db.pool, 'events', ['2082-02-01'], undefined, { lockTimeoutMs: 200, attempts: 8, maxBackoffMs: 200 });
  await release;
  assert.ok(await isAttached(db.pool, 'events', 'events_p20820201'));
});

test('detach and drop wait at most lock_timeout too', async () => {
  await ensureDayPartitions(db.pool, 'events', ['2083-01-01']);
  const held = await holdLock(db.url, 'events_p20830101', 'ACCESS EXCLUSIVE');
  try {
    await assert.rejects(dropTable(db.pool, 'events_p20830101', FAST), (err: { code?: string }) => err.code === '55P03');
  } finally {
    await held.release();
  }
  const parent = await holdLock(db.url, 'events', 'ACCESS EXCLUSIVE');
  try {
    await assert.rejects(detachPartition(db.pool, 'events', 'events_p20830101', FAST), (err: { code?: string }) => err.code === '55P03');
  } finally {
    await parent.release();
  }
  assert.ok(await isAttached(db.pool, 'events', 'events_p20830101'), 'still attached after the failed detach');
});

test('detach leaves the table standing, a second detach is a no-op, drop removes it, and ensure makes and attaches the day again', async () => {
  await ensureDayPartitions(db.pool, 'events', ['2084-01-01']);
  await db.pool.query(`INSERT INTO events (event_type, message, timestamp) VALUES ('health', 'ok', '2084-01-01T12:00:00Z')`);
  assert.equal(await detachPartition(db.pool, 'events', 'events_p20840101'), true);
  assert.equal(await detachPartition(db.pool, 'events', 'events_p20840101'), false);
  assert.equal(await isAttached(db.pool, 'events', 'events_p20840101'), false);
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events_p20840101');
  assert.equal(rows[0]!.n, 1, 'the detached table keeps its rows');
  // A table left detached under the day's name is not made again (nor attached) by ensure.
  await ensureDayPartitions(db.pool, 'events', ['2084-01-01']);
  assert.equal(await isAttached(db.pool, 'events', 'events_p20840101'), false);
  await dropTable(db.pool, 'events_p20840101');
  await dropTable(db.pool, 'events_p20840101');
  assert.equal((await db.pool.query(`SELECT to_regclass('events_p20840101') AS r`)).rows[0].r, null);
  await ensureDayPartitions(db.pool, 'events', ['2084-01-01']);
  assert.equal(await isAttached(db.pool, 'events', 'events_p20840101'), true);
});

test('detach finishes a DETACH CONCURRENTLY that was interrupted (FINALIZE)', async () => {
  await ensureDayPartitions(db.pool, 'events', ['2085-01-01']);
  // A reader's open transaction makes DETACH CONCURRENTLY wait in its second phase; cancelling it there leaves the partition pending.
  const reader = new pg.Client({ connectionString: db.url });
  const detacher = new pg.Client({ connectionString: db.url });
  await Promise.all([reader.connect(), detacher.connect()]);
  try {
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT count(*) FROM events');
    const pid = (await detacher.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const detaching = detacher.query('ALTER TABLE events DETACH PARTITION events_p20850101 CONCURRENTLY').then(() => 'done', (err: { code?: string }) => err.code);
    for (let i = 0; i < 100; i++) {
      const { rows } = await db.pool.query<{ waiting: boolean }>(`SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`, [pid]);
      if (rows[0]?.waiting) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await db.pool.query('SELECT pg_cancel_backend($1)', [pid]);
    assert.equal(await detaching, '57014');
    await reader.query('COMMIT');
  } finally {
    await Promise.all([reader.end(), detacher.end()]);
  }
  const pending = (await listChildren(db.pool, 'events')).find((c) => c.name === 'events_p20850101');
  assert.equal(pending?.detachPending, true);
  assert.equal(await detachPartition(db.pool, 'events', 'events_p20850101'), true);
  assert.equal(await isAttached(db.pool, 'events', 'events_p20850101'), false);
  await dropTable(db.pool, 'events_p20850101');
});

test('dropEmptyMetricDays drops the metrics days whose leaves are all gone, and only those', async () => {
  await ensureDayPartitions(db.pool, 'metrics', ['2086-01-01', '2086-01-02']);
  await detachAndDrop(db.pool, 'metrics_p20860101', 'metrics_p20860101_instance');
  await detachAndDrop(db.pool, 'metrics_p20860101', 'metrics_p20860101_app');
  await detachAndDrop(db.pool, 'metrics_p20860102', 'metrics_p20860102_app');
  assert.equal(await dropEmptyMetricDays(db.pool), 1);
  const days = (await names('metrics')).filter((n) => n.includes('_p2086'));
  assert.deepEqual(days, ['metrics_p20860102']);
});
