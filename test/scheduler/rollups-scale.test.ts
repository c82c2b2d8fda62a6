// Scale: a 24-hour window over more than a million raw rows answers like the raw rows, reading
// only the raw edges (the rest from rollups); prints the median of 5 timings (the figure itself
// belongs to the benchmark, not to a timed assertion).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadDay, timeWindowRead } from '../../bench/window-read.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';
import { assertWindowMatches } from './window-check.ts';

let db: TestDatabase;
let rawRows = 0;

before(async () => {
  db = await freshDatabase();
  const config = testConfig(db.url);
  await runJob(db.pool, config, 'partitions');
  rawRows = await loadDay(db.pool, 'scale');
  await runJob(db.pool, config, 'rollups');
});
after(async () => {
  await db?.drop();
});

test('a 24-hour window over a million raw rows equals the raw answer and reads only its raw edges', async () => {
  assert.ok(rawRows >= 1_000_000, `${rawRows} raw rows`);
  const worst = await assertWindowMatches(db.pool, 'scale', 1440);
  assert.ok(worst.sketched > 0, 'percentiles came from the merged sketches');
  const r = await timeWindowRead(db.pool, 'scale', rawRows);
  // The edges are the partial first minute and what came after the last rollups run: a few minutes of 1440.
  assert.ok(r.rowsReadFromMetrics > 0 && r.rowsReadFromMetrics < rawRows / 100, `rows read from metrics: ${r.rowsReadFromMetrics} of ${rawRows}`);
  console.log(
    `# 24 h window over ${rawRows} raw rows: median ${r.medianMs.toFixed(1)} ms from rollups (runs ${r.timingsMs.map((t) => t.toFixed(1)).join(' / ')}), ` +
      `${r.rowsReadFromMetrics} raw rows read; the seed's raw query ${r.rawQueryMs.toFixed(0)} ms`,
  );
});
