// `node --import tsx bench/indexes.ts [rounds] [intervals]`: the cost on load of the metrics index set. COPY limit
// with the current indexes against a candidate set, alternating on fresh databases in the same run.
// Candidate: keep the primary key and (app_name, metric_type, timestamp DESC), which serve the
// seed's window query, orchestry_app_metrics_window and the rollup DELETE; replace the btree on
// timestamp by BRIN (the rollup job's time-range scan over insert-ordered rows); drop
// (app_name, timestamp) and (metric_type, timestamp), which no query of the project uses.
import type { Pool } from '../src/db/pool.ts';
import { buildWorkload } from './load.ts';
import { copyLimit } from './paths/database.ts';
import { decodedSamples, lanesOf } from './paths/rows.ts';
import { median } from './stats.ts';
import { withStack } from './stack.ts';

export const CANDIDATE_SQL = [
  'DROP INDEX idx_metrics_app_timestamp',
  'DROP INDEX idx_metrics_type_timestamp',
  'DROP INDEX idx_metrics_timestamp',
  'CREATE INDEX idx_metrics_timestamp_brin ON metrics USING brin (timestamp)',
];

const candidate = async (pool: Pool) => {
  for (const sql of CANDIDATE_SQL) await pool.query(sql);
};

await withStack((s) => process.stderr.write(`[indexes] ${s}\n`), async () => {
  const rounds = Number(process.argv[2] ?? 3);
  const intervals = Number(process.argv[3] ?? 40); // 8,000 metric rows per interval
  const w = buildWorkload({ apps: 20, containersPerApp: 50, intervals, intervalMs: 5000 }, 6);
  const lanes = lanesOf(decodedSamples(w), 2, 5000);
  const cur: number[] = [];
  const cand: number[] = [];
  for (let r = 0; r < rounds; r++) {
    cur.push((await copyLimit(w, lanes)).rowsPerSec);
    cand.push((await copyLimit(w, lanes, candidate)).rowsPerSec);
    process.stderr.write(`[indexes] round ${r + 1}: current ${Math.round(cur.at(-1)!)} rows/s, candidate ${Math.round(cand.at(-1)!)} rows/s\n`);
  }
  process.stdout.write(`| index set | COPY rows/s (median of ${rounds}) | runs |\n|---|---:|---|\n`);
  process.stdout.write(`| current (PK + 4 btree) | ${Math.round(median(cur))} | ${cur.map(Math.round).join(' / ')} |\n`);
  process.stdout.write(`| candidate (PK + app/type/time btree + BRIN time) | ${Math.round(median(cand))} | ${cand.map(Math.round).join(' / ')} |\n`);
  process.stdout.write(`ratio candidate/current: ${(median(cand) / median(cur)).toFixed(2)}\n`);
});
