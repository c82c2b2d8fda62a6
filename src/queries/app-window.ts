// The operator's windowed read of an app's metrics: the seed's orchestry_app_metrics_window (rollups
// where they cover the window, raw rows otherwise) plus p99. `orchestry-ingest query window` runs it.
import type { Pool } from '../db/pool.ts';

/** The columns of a window row, in the order the CLI prints them. */
export const WINDOW_COLUMNS = ['metric_type', 'avg_value', 'min_value', 'max_value', 'p50_value', 'p95_value', 'p99_value', 'data_points'] as const;

export type WindowRow = Record<(typeof WINDOW_COLUMNS)[number], number | string>;

/** One row per metric type of `app` over the last `minutes` minutes. */
export async function appMetricsWindow(pool: Pool, app: string, minutes: number): Promise<WindowRow[]> {
  const { rows } = await pool.query<WindowRow>('SELECT * FROM orchestry_app_metrics_window($1, $2)', [app, minutes]);
  return rows;
}
