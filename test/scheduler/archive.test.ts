import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { restoreArchive } from '../../src/scheduler/index.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { childrenOf, dayIso, dayTag, runJob, runnerFor, testConfig } from './helpers.ts';

let db: TestDatabase;
let config: ReturnType<typeof testConfig>;

const checksum = async (table: string, where = 'true') =>
  (await db.pool.query<{ md5: string; n: number }>(`SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) AS md5, count(*) AS n FROM ${table} t WHERE ${where}`)).rows[0]!;

const dayRange = (k: number) => `timestamp >= '${dayIso(k)}T00:00:00Z' AND timestamp < '${dayIso(k + 1)}T00:00:00Z'`;

// The copy-gzip format (archives written before Parquet stay writable and restorable; Parquet and S3
// are in archive-destinations.test.ts). Days -20, -18 and -16 of events and app-level metrics, with awkward text (tabs, newlines,
// backslashes, quotes, non-ASCII, NULLs) that COPY must carry unchanged.
before(async () => {
  db = await freshDatabase();
  config = testConfig(db.url, { RETENTION_METRICS_APP_DAYS: '30', RETENTION_EVENTS_DAYS: '30', ARCHIVE_FORMAT: 'copy-gzip' });
  await db.pool.query(`INSERT INTO applications (name, spec) VALUES ('web', '{}')`);
  for (const k of [-20, -18, -16]) {
    await db.pool.query(`SELECT orchestry_ensure_day_partition('events', $1::date), orchestry_ensure_day_partition('metrics', $1::date, ARRAY['app'])`, [dayIso(k)]);
    await db.pool.query(`
      INSERT INTO events (event_type, app_name, message, details, severity, timestamp, node_id)
      SELECT 'error', CASE WHEN i % 5 = 0 THEN NULL ELSE 'web' END, E'line\\tone\\nline two \\\\ "q" ' || i || ' \u00e9\u2603',
             jsonb_build_object('i', i, 'nested', jsonb_build_object('s', E'a\\nb')), 'error', $1::date + make_interval(secs => i * 7), NULL
        FROM generate_series(1, 5000) i`, [dayIso(k)]);
    await db.pool.query(`
      INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, aggregation_level)
      SELECT 'web', 'latency_p95', $1::date + make_interval(secs => i * 3), i / 3.0, '{"window":"1m"}', 'app' FROM generate_series(1, 20000) i`, [dayIso(k)]);
  }
});
after(async () => {
  await db?.drop();
});

test('archive then restore gives identical rows', async () => {
  const before = { ev: await checksum('events', dayRange(-20)), me: await checksum('metrics', dayRange(-20)) };
  assert.equal(before.ev.n, 5000);
  const run = await runJob(db.pool, config, 'archive', { older_than: '17d' });
  assert.equal(run.rowsAffected, 2 * (5000 + 20000));
  assert.ok(!(await childrenOf(db.pool, 'events')).includes(`events_p${dayTag(-20)}`));
  assert.ok(!(await childrenOf(db.pool, 'metrics')).includes(`metrics_p${dayTag(-20)}`), 'the day without leaves went too');
  assert.ok((await childrenOf(db.pool, 'events')).includes(`events_p${dayTag(-16)}`), 'younger than the cutoff: kept');
  const files = readdirSync(config.archiveDir).sort();
  assert.deepEqual(files, [
    `events_p${dayTag(-20)}.copy.gz`, `events_p${dayTag(-20)}.manifest.json`, `events_p${dayTag(-18)}.copy.gz`, `events_p${dayTag(-18)}.manifest.json`,
    `metrics_p${dayTag(-20)}_app.copy.gz`, `metrics_p${dayTag(-20)}_app.manifest.json`, `metrics_p${dayTag(-18)}_app.copy.gz`, `metrics_p${dayTag(-18)}_app.manifest.json`,
  ].sort());
  const { rows: summary } = await db.pool.query<{ n: number }>(`SELECT sum(event_count)::int AS n FROM events_compressed WHERE hour_bucket >= $1::date AND hour_bucket < $1::date + 1`, [dayIso(-20)]);
  assert.equal(summary[0]!.n, 5000, 'events were summarised before they left');

  await restoreArchive(db.pool, join(config.archiveDir, `events_p${dayTag(-20)}.copy.gz`));
  await restoreArchive(db.pool, join(config.archiveDir, `metrics_p${dayTag(-20)}_app.copy.gz`));
  assert.deepEqual(await checksum('events', dayRange(-20)), before.ev);
  assert.deepEqual(await checksum('metrics', dayRange(-20)), before.me);
  assert.deepEqual(await childrenOf(db.pool, `metrics_p${dayTag(-20)}`), [`metrics_p${dayTag(-20)}_app`]);
});

test('restore refuses a file that does not match its manifest', async () => {
  const { writeFileSync, readFileSync } = await import('node:fs');
  const file = join(config.archiveDir, `events_p${dayTag(-18)}.copy.gz`);
  const good = readFileSync(file);
  writeFileSync(file, Buffer.concat([good.subarray(0, good.length - 8), Buffer.alloc(8)]));
  await assert.rejects(restoreArchive(db.pool, file), (err: Error & { code?: string }) => err.code === 'E_ARCHIVE_CORRUPT');
  writeFileSync(file, good);
});

test('an archive interrupted after export and before drop is finished by the next run: one file, no loss', async () => {
  const part = `events_p${dayTag(-16)}`;
  const before = await checksum('events', dayRange(-16));
  const runner = runnerFor(db.pool, config, { faults: new Set([`archive:after-export:${part}`]) });
  const { done } = await runner.trigger('archive', { older_than: '15d' }, 'cli');
  const failed = await done;
  await runner.stop();
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /fault injected at archive:after-export/);
  const { rows: led } = await db.pool.query(`SELECT state FROM archive_ledger WHERE partition = $1`, [part]);
  assert.ok(['exported'].includes(led[0]?.state), `ledger at ${led[0]?.state}`);
  assert.ok(!(await childrenOf(db.pool, 'events')).includes(part), 'detached');
  assert.equal((await checksum(part)).n, before.n, 'the detached table still holds every row');

  const run = await runJob(db.pool, config, 'archive', { older_than: '15d' });
  assert.equal(run.status, 'succeeded');
  const { rows: exists } = await db.pool.query(`SELECT to_regclass($1) AS t`, [part]);
  assert.equal(exists[0].t, null, 'dropped');
  assert.deepEqual(readdirSync(config.archiveDir).filter((f) => f.startsWith(part)).sort(), [`${part}.copy.gz`, `${part}.manifest.json`]);
  const { rows: states } = await db.pool.query(`SELECT generation, state FROM archive_ledger WHERE partition = $1`, [part]);
  assert.deepEqual(states, [{ generation: 1, state: 'dropped' }]);
  await restoreArchive(db.pool, join(config.archiveDir, `${part}.copy.gz`));
  assert.deepEqual(await checksum('events', dayRange(-16)), before);
});

test('partitions does not make an archived partition again', async () => {
  await runJob(db.pool, config, 'partitions');
  assert.ok(!(await childrenOf(db.pool, 'events')).includes(`events_p${dayTag(-18)}`));
  assert.ok((await childrenOf(db.pool, 'events')).includes(`events_p${dayTag(-17)}`));
});
