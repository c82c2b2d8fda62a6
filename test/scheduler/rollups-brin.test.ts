// The rollups job's raw reads find their minutes through the BRIN index on metrics.timestamp; each
// run summarizes the page ranges VACUUM has not, or every later read would read them all.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withTransaction } from '../../src/db/tx.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';
import { staleWindows } from './window-check.ts';

let db: TestDatabase;

// Two hours of samples, 2,000 a minute in time order, ending a minute ago: over 1,500 heap pages,
// none summarized (no VACUUM runs).
before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, testConfig(db.url), 'partitions');
  // No autovacuum here: it would summarize the ranges itself, whenever it came by.
  await db.pool.query(`DO $$ DECLARE r regclass; BEGIN
    FOR r IN SELECT relid FROM pg_partition_tree('metrics') WHERE isleaf LOOP
      EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', r);
    END LOOP; END $$`);
  await db.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, unit, aggregation_level)
    SELECT 'app-' || (g % 5), 'rps', date_trunc('minute', now()) - interval '121 minutes' + g * interval '30 ms', (g % 400) / 2.0, 'rps', 'instance'
      FROM generate_series(0, 120 * 2000 - 1) AS g`);
});
after(async () => {
  await db?.drop();
});

/** Heap pages a read of one minute (20 minutes ago) visits. */
async function pagesReadForAMinute(): Promise<number> {
  const rows = await withTransaction(db.pool, async (c) => (await c.query<{ 'QUERY PLAN': unknown[] }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM metrics
      WHERE aggregation_level = 'instance' AND timestamp >= date_trunc('minute', now()) - interval '20 minutes'
        AND timestamp < date_trunc('minute', now()) - interval '19 minutes'`,
  )).rows, { enable_seqscan: 'off' }); // the plan the job gets on a big partition
  let pages = 0;
  const walk = (n: Record<string, unknown>) => {
    if (n['Node Type'] === 'Bitmap Heap Scan') pages += Number(n['Exact Heap Blocks'] ?? 0) + Number(n['Lossy Heap Blocks'] ?? 0);
    if (n['Node Type'] === 'Seq Scan') pages = Infinity;
    for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
  };
  walk((rows[0]!['QUERY PLAN'][0] as { Plan: Record<string, unknown> }).Plan);
  return pages;
}

test('a run summarizes the BRIN ranges: a minute\'s read then visits that minute\'s page ranges, not every page since the last VACUUM', async () => {
  const before = await pagesReadForAMinute();
  const run = await runJob(db.pool, testConfig(db.url), 'rollups');
  const after = await pagesReadForAMinute();
  const summarized = (run.progress as { summarized: number }).summarized;
  assert.ok(summarized >= 10, `the run summarized the ranges (${summarized})`);
  assert.ok(before >= 1_500, `unsummarized, a minute's read visits every page (${before})`);
  assert.ok(after <= 2 * 128, `summarized, it visits at most the two ranges holding the minute (${after} pages, ${before} before)`);
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT coalesce(sum(brin_summarize_new_values(p.relid)), 0)::int AS n FROM pg_partition_tree('idx_metrics_timestamp_brin'::regclass) p WHERE p.isleaf`,
  );
  assert.equal(rows[0]!.n, 0, 'nothing was left unsummarized');
  assert.deepEqual(await staleWindows(db.pool), [], 'and the windows are those of the raw rows');
});
