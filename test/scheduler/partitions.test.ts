import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { childrenOf, dayIso, dayTag, runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

test('partitions makes every day inside retention and PARTITIONS_AHEAD_DAYS ahead, with instance and app leaves for metrics', async () => {
  const config = testConfig(db.url, { PARTITIONS_AHEAD_DAYS: '5', RETENTION_METRICS_INSTANCE_DAYS: '3', RETENTION_METRICS_APP_DAYS: '6', RETENTION_EVENTS_DAYS: '4' });
  const run = await runJob(db.pool, config, 'partitions');
  assert.ok((run.rowsAffected ?? 0) > 0);
  const metricDays = await childrenOf(db.pool, 'metrics');
  for (let i = -5; i <= 5; i++) assert.ok(metricDays.includes(`metrics_p${dayTag(i)}`), `metrics day ${i}`);
  assert.ok(!metricDays.includes(`metrics_p${dayTag(6)}`), 'nothing beyond 5 days ahead');
  // Instance leaves only inside instance retention; app leaves inside app retention.
  assert.deepEqual(await childrenOf(db.pool, `metrics_p${dayTag(-2)}`), [`metrics_p${dayTag(-2)}_app`, `metrics_p${dayTag(-2)}_instance`]);
  assert.deepEqual(await childrenOf(db.pool, `metrics_p${dayTag(-5)}`), [`metrics_p${dayTag(-5)}_app`]);
  const eventDays = await childrenOf(db.pool, 'events');
  for (let i = -3; i <= 5; i++) assert.ok(eventDays.includes(`events_p${dayTag(i)}`), `events day ${i}`);
  const rollupDays = await childrenOf(db.pool, 'metric_rollups');
  for (let i = -5; i <= 5; i++) assert.ok(rollupDays.includes(`metric_rollups_p${dayTag(i)}`), `rollups day ${i}`);
  // No DEFAULT partition anywhere.
  const { rows } = await db.pool.query(`SELECT c.relname FROM pg_class c WHERE c.relispartition AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'`);
  assert.equal(rows.length, 0);
  // Idempotent: a second run makes nothing.
  const again = await runJob(db.pool, config, 'partitions');
  assert.equal(again.rowsAffected, 0);
});

test('a late row for a missing day inside retention gets its partition and lands in the instance leaf', async () => {
  const config = testConfig(db.url, { RETENTION_METRICS_INSTANCE_DAYS: '7' });
  const day = dayTag(-4);
  await db.pool.query(`ALTER TABLE metrics DETACH PARTITION metrics_p${day}`);
  await db.pool.query(`DROP TABLE metrics_p${day}`);
  await assert.rejects(
    db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value) VALUES ('web', 'rps', $1::date + time '10:00', 1)`, [dayIso(-4)]),
    /no partition/,
  );
  await runJob(db.pool, config, 'partitions');
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value) VALUES ('web', 'rps', ($1::date + time '10:00') AT TIME ZONE 'UTC', 1)`, [dayIso(-4)]);
  const { rows } = await db.pool.query<{ t: string }>(`SELECT tableoid::regclass::text AS t FROM metrics WHERE app_name = 'web'`);
  assert.deepEqual(rows, [{ t: `metrics_p${day}_instance` }]);
});

test('the ingestion-facing two-argument function makes both leaves of a day', async () => {
  await db.pool.query(`SELECT orchestry_ensure_day_partition('metrics', $1::date)`, [dayIso(20)]);
  assert.deepEqual(await childrenOf(db.pool, `metrics_p${dayTag(20)}`), [`metrics_p${dayTag(20)}_app`, `metrics_p${dayTag(20)}_instance`]);
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level) VALUES ('web', 'rps', now() + interval '20 days', 1, 'app')`);
  const { rows } = await db.pool.query<{ t: string }>(`SELECT tableoid::regclass::text AS t FROM metrics WHERE aggregation_level = 'app'`);
  assert.deepEqual(rows, [{ t: `metrics_p${dayTag(20)}_app` }]);
});
