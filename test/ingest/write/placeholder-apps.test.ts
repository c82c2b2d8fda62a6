// Placeholder applications expire when never registered: only an old placeholder with no instance
// and no recent metrics goes; registered apps, young placeholders and live ones stay. The cache of
// known applications forgets them after its TTL, on access, with no timer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';
import { KnownApps, expirePlaceholderApps } from '../../../src/ingest/write/placeholder-apps.ts';

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => db?.drop());

test('expiry deletes old placeholders that have no instance and no metrics within the TTL, and nothing else', async () => {
  const placeholder = '{"placeholder": true}';
  const apps: [string, string, string][] = [
    ['old-idle', placeholder, '48 hours'],
    ['old-with-instance', placeholder, '48 hours'],
    ['old-with-recent-metrics', placeholder, '48 hours'],
    ['young', placeholder, '1 hour'],
    ['old-registered', '{"spec": {"image": "nginx"}}', '48 hours'],
  ];
  for (const [name, spec, age] of apps) {
    await db.pool.query(`INSERT INTO applications (name, spec, status, created_at) VALUES ($1, $2::jsonb, 'registered', now() - $3::interval)`, [name, spec, age]);
  }
  await db.pool.query(`INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status) VALUES ('old-with-instance', 'c1', 'c1', 0, '10.0.0.1', 80, 'running')`);
  await db.pool.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level) VALUES ('old-with-recent-metrics', 'rps', now(), 1, '{}', 'req/s', 'instance')`);
  assert.equal(await expirePlaceholderApps(db.pool, 24), 1);
  const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM applications ORDER BY name');
  assert.deepEqual(rows.map((r) => r.name), ['old-registered', 'old-with-instance', 'old-with-recent-metrics', 'young']);
});

test('known applications are forgotten once the TTL has passed since the cache was last emptied, and on clear()', () => {
  let now = 1_000;
  const known = new KnownApps(60_000, () => now);
  known.add('a');
  now += 59_999;
  assert.equal(known.has('a'), true);
  known.add('b');
  now += 1;
  assert.equal(known.has('a'), false, 'the TTL counts from when the cache was emptied, not from each add');
  assert.equal(known.has('b'), false);
  known.add('c');
  known.clear();
  assert.equal(known.has('c'), false);
});
