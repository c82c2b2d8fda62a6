// The window-read figure: a 24-hour orchestry_app_metrics_window over >= 1M raw rows, answered from
// rollups (median of 5), with the raw rows it read (pg_stat_xact_user_tables) and the seed's
// raw query for contrast. Shared by the benchmark and the scale test.
import type { Pool } from '../src/db/pool.ts';
import { runJob, testConfig } from '../tools/fixtures/jobs.ts';
import { benchDatabase } from './db.ts';
import type { Figure } from './report.ts';

export interface WindowRead {
  rawRows: number;
  /** Milliseconds of each of the 5 reads from rollups, and their median. */
  timingsMs: number[];
  medianMs: number;
  /** Rows the last read fetched from metrics (sequential + index), i.e. its raw edges. */
  rowsReadFromMetrics: number;
  /** The same window straight from raw rows (the seed's query shape), one run. */
  rawQueryMs: number;
}

/** Inserts a day of samples of `app` (5 metric types every 400 ms: 1.08M rows) ending now. */
export async function loadDay(pool: Pool, app: string): Promise<number> {
  const { rowCount } = await pool.query(
    `INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
     SELECT $1, t, ts, (extract(epoch FROM ts) * 10)::bigint % 1000 / 10.0 + length(t), 'instance'
       FROM generate_series(now() - interval '24 hours 5 minutes', now() - interval '1 second', interval '400 milliseconds') AS ts,
            unnest(ARRAY['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections']) AS t`,
    [app],
  );
  await pool.query('ANALYZE metrics');
  return rowCount ?? 0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Times the 24-hour window of `app` (rollups must have run). */
export async function timeWindowRead(pool: Pool, app: string, rawRows: number): Promise<WindowRead> {
  const timingsMs: number[] = [];
  let rowsReadFromMetrics = 0;
  const client = await pool.connect();
  try {
    for (let i = 0; i < 5; i++) {
      await client.query('BEGIN');
      const t0 = performance.now();
      await client.query('SELECT * FROM orchestry_app_metrics_window($1, 1440)', [app]);
      timingsMs.push(performance.now() - t0);
      const { rows } = await client.query<{ n: string }>(
        `SELECT coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) AS n FROM pg_stat_xact_user_tables WHERE relname LIKE 'metrics_p%'`,
      );
      rowsReadFromMetrics = Number(rows[0]!.n);
      await client.query('COMMIT');
    }
    const t0 = performance.now();
    await client.query(
      `SELECT metric_type, avg(value), min(value), max(value), percentile_cont(0.5) WITHIN GROUP (ORDER BY value),
              percentile_cont(0.95) WITHIN GROUP (ORDER BY value), count(*)
         FROM metrics WHERE app_name = $1 AND timestamp >= now() - interval '1440 minutes' GROUP BY metric_type`,
      [app],
    );
    const rawQueryMs = performance.now() - t0;
    return { rawRows, timingsMs, medianMs: median(timingsMs), rowsReadFromMetrics, rawQueryMs };
  } finally {
    client.release();
  }
}

/** The benchmark's figure: a fresh database, a day of samples, one rollups run, 5 timed reads. */
export async function windowReadFigure(log: (s: string) => void): Promise<Figure> {
  const db = await benchDatabase();
  try {
    const config = testConfig(db.url);
    await runJob(db.pool, config, 'partitions');
    log('window read: loading a day of samples (1.08M rows) and rolling it up');
    const rawRows = await loadDay(db.pool, 'bench-window');
    await runJob(db.pool, config, 'rollups');
    const r = await timeWindowRead(db.pool, 'bench-window', rawRows);
    log(`  median ${r.medianMs.toFixed(1)} ms (raw query ${Math.round(r.rawQueryMs)} ms)`);
    return {
      name: 'window read, 24 h (orchestry_app_metrics_window)',
      value: r.medianMs,
      unit: 'ms',
      runs: r.timingsMs,
      note: `${rawRows} raw rows, ${r.rowsReadFromMetrics} raw edge rows read, the rest from rollups; the seed's raw query ${Math.round(r.rawQueryMs)} ms`,
    };
  } finally {
    await db.drop();
  }
}
