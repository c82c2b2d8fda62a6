// src/partitions/days.ts and names.ts against PostgreSQL: the UTC day of an instant, day
// arithmetic at month, leap-year and epoch edges, and partition names built and parsed as the
// database's own orchestry_ensure_day_partition builds them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addDays,
  DAY_MS,
  dayEndMs,
  dayExpired,
  dayOf,
  dayRange,
  daysBetween,
  dayStartMs,
  isCalendarDay,
  listChildren,
  parsePartitionName,
  partitionName,
} from '../../src/partitions/index.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { useFreshDatabase } from './helpers.ts';

let db: TestDatabase;
useFreshDatabase((d) => (db = d));

const EDGES = [
  0,
  -1,
  DAY_MS - 1,
  DAY_MS,
  Date.UTC(2024, 1, 28, 23, 59, 59, 999),
  Date.UTC(2024, 1, 29, 0, 0, 0, 0),
  Date.UTC(2024, 1, 29, 23, 59, 59, 999),
  Date.UTC(2025, 1, 28, 23, 59, 59, 999),
  Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  Date.UTC(2027, 0, 1, 0, 0, 0, 0),
  Date.UTC(2099, 11, 31, 12, 0, 0, 1),
];

test('dayOf gives the UTC day PostgreSQL gives for the same instant, at midnight edges', async () => {
  for (const ms of EDGES) {
    const { rows } = await db.pool.query<{ day: string }>(`SELECT to_char(to_timestamp($1::float8 / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`, [ms]);
    assert.equal(dayOf(ms), rows[0]!.day, `instant ${ms}`);
  }
  assert.equal(dayOf(-1), '1969-12-31');
  assert.equal(dayOf(DAY_MS - 1), '1970-01-01');
  assert.equal(dayOf(DAY_MS), '1970-01-02');
});

test('addDays, dayStartMs and dayEndMs agree with date arithmetic in PostgreSQL across months, leap days and years', async () => {
  const cases: [string, number][] = [['2024-02-28', 1], ['2024-02-29', 1], ['2025-02-28', 1], ['2026-12-31', 1], ['2027-01-01', -1], ['2024-03-01', -1], ['2026-11-01', -30], ['2026-01-15', 400], ['1970-01-01', -1]];
  for (const [day, n] of cases) {
    const { rows } = await db.pool.query<{ day: string; lo: Date; hi: Date }>(
      `SELECT to_char($1::date + $2::int, 'YYYY-MM-DD') AS day, $1::date::timestamp AT TIME ZONE 'UTC' AS lo, ($1::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi`,
      [day, n],
    );
    assert.equal(addDays(day, n), rows[0]!.day, `${day} + ${n}`);
    assert.equal(dayStartMs(day), rows[0]!.lo.getTime(), `start of ${day}`);
    assert.equal(dayEndMs(day), rows[0]!.hi.getTime(), `end of ${day}`);
    assert.deepEqual(dayRange(day), { from: rows[0]!.lo, to: rows[0]!.hi });
  }
});

test('daysBetween lists the days an interval touches, its end excluded', () => {
  const t = Date.UTC(2024, 1, 28, 23, 0);
  assert.deepEqual(daysBetween(t, t + 3_600_000), ['2024-02-28']);
  assert.deepEqual(daysBetween(t, t + 3_600_001), ['2024-02-28', '2024-02-29']);
  assert.deepEqual(daysBetween(t, Date.UTC(2024, 2, 1, 0, 0, 0, 1)), ['2024-02-28', '2024-02-29', '2024-03-01']);
  assert.deepEqual(daysBetween(t, t), []);
});

test('dayExpired is true exactly when the whole day lies before now - days, as PostgreSQL computes the cutoff', async () => {
  const now = new Date(Date.UTC(2026, 2, 10, 0, 0, 0, 0));
  for (const [day, days] of [['2026-03-02', 7], ['2026-03-03', 7], ['2026-03-09', 0], ['2026-03-10', 0], ['2026-02-08', 30], ['2026-02-07', 30]] as const) {
    const { rows } = await db.pool.query<{ expired: boolean }>(
      `SELECT ($1::date + 1)::timestamp AT TIME ZONE 'UTC' <= $2::timestamptz - make_interval(days => $3) AS expired`,
      [day, now, days],
    );
    assert.equal(dayExpired(day, now, days), rows[0]!.expired, `${day} past ${days} days`);
  }
  assert.equal(dayExpired('2026-03-02', now, 7), true);
  assert.equal(dayExpired('2026-03-03', now, 7), false);
});

test('isCalendarDay accepts real days only', () => {
  for (const d of ['2024-02-29', '2026-12-31', '1970-01-01']) assert.equal(isCalendarDay(d), true, d);
  for (const d of ['2025-02-29', '2026-13-01', '2026-04-31', '2026-1-01', '20260101', '2026-01-01T00:00:00Z', '']) assert.equal(isCalendarDay(d), false, d);
});

test('partition names round-trip through the database: built here as orchestry_ensure_day_partition builds them, parsed back', async () => {
  for (const day of ['2091-02-28', '2092-02-29', '2091-12-31']) {
    for (const parent of ['metrics', 'events', 'metric_rollups'] as const) {
      const { rows } = await db.pool.query<{ name: string }>('SELECT orchestry_ensure_day_partition($1, $2::date, NULL) AS name', [parent, day]);
      assert.equal(rows[0]!.name, partitionName(parent, day));
      assert.deepEqual(parsePartitionName(rows[0]!.name), { parent, day, level: undefined });
    }
    const leaves = await listChildren(db.pool, partitionName('metrics', day));
    assert.deepEqual(leaves.map((l) => l.name), [partitionName('metrics', day, 'app'), partitionName('metrics', day, 'instance')]);
    for (const leaf of leaves) assert.deepEqual(parsePartitionName(leaf.name), { parent: 'metrics', day, level: leaf.level });
    assert.deepEqual(leaves.map((l) => [l.day, l.level]), [[day, 'app'], [day, 'instance']]);
  }
});

test('names that are not day partitions do not parse', () => {
  for (const name of ['events_p20260101_app', 'metric_rollups_p20260101_instance', 'metrics_p20260230', 'metrics_p2026010', 'metricsx_p20260101', 'metrics_p20260101_system', 'instances', 'metrics_p20260101_instance_old']) {
    assert.equal(parsePartitionName(name), undefined, name);
  }
  assert.deepEqual(parsePartitionName('metrics_p20260101_instance'), { parent: 'metrics', day: '2026-01-01', level: 'instance' });
});
