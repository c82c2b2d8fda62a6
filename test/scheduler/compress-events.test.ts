import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, testConfig(db.url), 'partitions');
  await db.pool.query(`INSERT INTO applications (name, spec) VALUES ('web', '{}')`);
  // Yesterday 10:00-10:59 UTC: 60 'health' events for 'web' (one a minute), 8 distinct messages, and
  // 3 'error' events with no app.
  await db.pool.query(`
    INSERT INTO events (event_type, app_name, message, severity, timestamp)
    SELECT 'health', 'web', 'msg ' || (i % 8), CASE WHEN i % 3 = 0 THEN 'warning' ELSE 'info' END,
           date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '14 hours' + make_interval(mins => i)
      FROM generate_series(0, 59) i
    UNION ALL
    SELECT 'error', NULL, 'boom', 'critical', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '14 hours' + make_interval(mins => i)
      FROM generate_series(1, 3) i`);
});
after(async () => {
  await db?.drop();
});

test('compress-events writes one hourly summary per app and type, with severity counts and the 5 latest distinct messages', async () => {
  await runJob(db.pool, testConfig(db.url), 'compress-events', { since: '2d' });
  const { rows } = await db.pool.query(`SELECT app_name, event_type, event_count::int, severity_counts, sample_messages FROM events_compressed ORDER BY event_type`);
  assert.deepEqual(rows, [
    { app_name: null, event_type: 'error', event_count: 3, severity_counts: { critical: 3 }, sample_messages: ['boom'] },
    // minute 59 -> msg 3, 58 -> msg 2, 57 -> msg 1, 56 -> msg 0, 55 -> msg 7
    { app_name: 'web', event_type: 'health', event_count: 60, severity_counts: { info: 40, warning: 20 }, sample_messages: ['msg 3', 'msg 2', 'msg 1', 'msg 0', 'msg 7'] },
  ]);
});

test('a second compress-events run rewrites nothing, and a late event updates only its hour', async () => {
  const snap = async () => (await db.pool.query(`SELECT xmin::text, event_type, event_count::int FROM events_compressed ORDER BY event_type`)).rows;
  const first = await snap();
  const again = await runJob(db.pool, testConfig(db.url), 'compress-events', { since: '2d' });
  assert.equal(again.rowsAffected, 0);
  assert.deepEqual(await snap(), first);
  await db.pool.query(`INSERT INTO events (event_type, message, severity, timestamp) VALUES ('error', 'late', 'error', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '14 hours' + interval '30 minutes')`);
  const late = await runJob(db.pool, testConfig(db.url), 'compress-events', { since: '2d' });
  assert.equal(late.rowsAffected, 1);
  const { rows } = await db.pool.query(`SELECT event_count::int, severity_counts, sample_messages FROM events_compressed WHERE event_type = 'error'`);
  assert.deepEqual(rows, [{ event_count: 4, severity_counts: { critical: 3, error: 1 }, sample_messages: ['late', 'boom'] }]);
});
