// Late rows and the rollups, through the real worker: rows 6 hours and 3 days late are logged by
// the writer and taken by the next run, which rewrites exactly their windows; and a writer
// transaction open while the job moves the watermark is neither missed nor double-counted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withTransaction } from '../../src/db/tx.ts';
import type { StatsMessage } from '../../src/ingest/contract.ts';
import { TouchedWindows } from '../../src/ingest/write/invalidations.ts';
import type { RunningWorker } from '../../src/worker.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { produce, testTopics } from '../helpers/kafka.ts';
import { iso, stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';
import { runJob, testConfig } from './helpers.ts';
import { logTouched, staleWindows } from './window-check.ts';

let db: TestDatabase;
let worker: RunningWorker;
let statsTopic: string;
const config = () => testConfig(db.url);
const MIN = 60_000;
const HOUR = 3_600_000;

// Four days of samples every 20 s (2 apps x 2 types), ending 2 minutes ago; values are multiples
// of 0.5 so that sums are exact in any order. Then a first rollups run covers them.
before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, config(), 'partitions');
  await db.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
    SELECT 'late-' || a, t, ts, ((extract(epoch FROM ts)::bigint / 20 * 7 + a * 13) % 200) / 2.0, 'instance'
      FROM generate_series(now() - interval '4 days', now() - interval '2 minutes', interval '20 seconds') AS ts,
           generate_series(1, 2) AS a, unnest(ARRAY['cpu_percent', 'rps']) AS t`);
  await runJob(db.pool, config(), 'rollups');
  const topics = await testTopics(2);
  statsTopic = topics.stats;
  worker = await startTestWorker(workerEnv(db.url, topics));
});
after(async () => {
  await worker?.stop();
  await db?.drop();
});

/** Row version of every window (xmin, ctid) by "width epoch app type". */
async function versions(): Promise<Map<string, string>> {
  const { rows } = await db.pool.query<{ key: string; v: string }>(
    `SELECT concat_ws(' ', width, extract(epoch FROM bucket)::bigint, app_name, metric_type) AS key, xmin::text || ctid::text AS v FROM metric_rollups`,
  );
  return new Map(rows.map((r) => [r.key, r.v]));
}

const windowKeys = (ms: number, app: string, types: string[]) =>
  types.flatMap((t) => [`1m ${Math.floor(ms / MIN) * 60} ${app} ${t}`, `1h ${Math.floor(ms / HOUR) * 3600} ${app} ${t}`]);

test('rows 6 hours and 3 days late, stored by the worker, are reflected by the next run, and only their windows are rewritten', async () => {
  assert.deepEqual(await staleWindows(db.pool), [], 'the rollups start equal to the raw rows');
  const now = Date.now();
  const sixHours = Math.floor((now - 6 * HOUR) / 1000) * 1000 + 17_000;
  const threeDays = Math.floor((now - 3 * 86_400_000) / 1000) * 1000 + 41_000;
  const before = await versions();
  await produce(statsTopic, [
    { key: 'c-late', value: stats('late-1', 'c-late', iso(sixHours), { cpu_percent: 99.5, memory_percent: 10, rps: 1234.5 }) },
    { key: 'c-late', value: stats('late-1', 'c-late', threeDays, { cpu_percent: 0.5, memory_percent: 20, rps: 0 }) },
  ]);
  await waitUntil('the late rows stored', async () => (await db.pool.query(`SELECT 1 FROM metrics WHERE labels->>'container_id' = 'c-late'`)).rowCount === 6);
  const { rows: logged } = await db.pool.query(`SELECT count(*)::int AS n FROM rollup_invalidations`);
  assert.equal(logged[0].n, 6, 'two minutes x three metric types were logged by the writer');
  const stale = await staleWindows(db.pool);
  assert.ok(stale.length >= 4, `the late rows make windows stale (${stale.join(', ')})`);

  const run = await runJob(db.pool, config(), 'rollups');
  assert.deepEqual(await staleWindows(db.pool), [], 'every window equals a recomputation from raw rows');
  const { rows: left } = await db.pool.query(`SELECT count(*)::int AS n FROM rollup_invalidations`);
  assert.equal(left[0].n, 0, 'the log was consumed');

  const after = await versions();
  const expected = new Set([...windowKeys(sixHours, 'late-1', ['cpu_percent', 'memory_percent', 'rps']), ...windowKeys(threeDays, 'late-1', ['cpu_percent', 'memory_percent', 'rps'])]);
  const settled = Math.floor(now / HOUR) * HOUR - HOUR; // windows after this may be new because time passed
  const rewritten = [...after].filter(([k, v]) => before.get(k) !== v && Number(k.split(' ')[1]) * 1000 < settled).map(([k]) => k);
  assert.deepEqual(rewritten.sort(), [...expected].sort(), 'exactly the late rows\' 1 m and 1 h windows were written');
  assert.equal(run.rowsAffected, expected.size);
});

test('a writer transaction open while the job advances the watermark is waited for, and its rows are counted once', async () => {
  // Put the job 5 minutes behind, then hold a writer transaction with a row 2 minutes ago.
  await db.pool.query(`UPDATE rollup_state SET watermark = date_trunc('minute', now()) - interval '5 minutes', computed_through = date_trunc('minute', now()) - interval '5 minutes'`);
  const ms = Date.now() - 2 * MIN;
  const client = await db.pool.connect();
  let jobDone = false;
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level) VALUES ('race-app', 'rps', to_timestamp($1 / 1000.0), 4242, 'instance')`, [ms]);
    const touched = new TouchedWindows();
    touched.add({ app: 'race-app', ts: { ms, iso: iso(ms) }, rps: 4242 } as unknown as StatsMessage);
    assert.equal(await logTouched(client, touched), 0, 'above the watermark: not logged');
    const job = runJob(db.pool, config(), 'rollups').finally(() => (jobDone = true));
    await waitUntil('the job waiting on the rollup lock', async () =>
      (await db.pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1919904876 AND NOT granted`)).rowCount === 1);
    assert.equal(jobDone, false);
    await client.query('COMMIT');
    await job;
  } finally {
    client.release();
  }
  const { rows } = await db.pool.query(`SELECT count, max FROM metric_rollups WHERE width = '1m' AND app_name = 'race-app'`);
  assert.deepEqual(rows, [{ count: 1, max: 4242 }], 'the row is in its 1 m window exactly once');
  assert.deepEqual(await staleWindows(db.pool), []);
  // The other order: the watermark is past the minute now, so a writer logs it.
  const logged = await withTransaction(db.pool, async (c) => {
    const t = new TouchedWindows();
    t.add({ app: 'race-app', ts: { ms, iso: iso(ms) }, rps: 1 } as unknown as StatsMessage);
    return logTouched(c, t);
  });
  assert.equal(logged, 1, 'below the watermark: logged');
  await db.pool.query('DELETE FROM rollup_invalidations');
});
