// query window --app NAME --minutes N: an app's metrics over the last minutes, read from the
// replica when DATABASE_REPLICA_URL is set (the SQL is src/queries/app-window.ts).
import type { Command } from 'commander';
import { appMetricsWindow, WINDOW_COLUMNS } from '../queries/app-window.ts';
import { configOrExit, readPoolFor } from './context.ts';
import { printTable } from './table.ts';

export function registerQueryCommands(program: Command): void {
  program
    .command('query')
    .description('read queries')
    .command('window')
    .description("an app's metrics over the last N minutes (orchestry_app_metrics_window: rollups where they cover it, raw rows otherwise)")
    .requiredOption('--app <name>', 'application name')
    .option('--minutes <n>', 'window length in minutes', '5')
    .action(async (opts: { app: string; minutes: string }) => {
      const minutes = Number(opts.minutes);
      if (!Number.isInteger(minutes) || minutes <= 0) {
        process.stderr.write('orchestry-ingest: --minutes must be a positive integer\n');
        process.exit(2);
      }
      const config = configOrExit({ require: ['DATABASE_READ'] });
      const pool = readPoolFor(config, 'orchestry-ingest-query');
      try {
        const rows = await appMetricsWindow(pool, opts.app, minutes);
        const cells = rows.map((r) => WINDOW_COLUMNS.map((h) => (typeof r[h] === 'number' && h !== 'data_points' ? (r[h] as number).toFixed(3) : String(r[h]))));
        printTable([...WINDOW_COLUMNS], cells);
      } finally {
        await pool.end();
      }
    });
}
