// jobs list | jobs run NAME [--param value ...] | jobs runs [--job NAME];
// query window --app NAME --minutes N. Runs started here are `cli` runs in job_runs, under the
// same one-at-a-time lock as the worker's scheduler.
import type { Command } from 'commander';
import { IngestError, errorMessage } from '../errors.ts';
import { createRunner, JOBS } from '../scheduler/index.ts';
import type { JobDefinition } from '../scheduler/job.ts';
import type { JobRun } from '../scheduler/types.ts';
import { configOrExit, loggerFor, poolFor, readPoolFor } from './context.ts';

/** `--older-than 14d --dry` -> { older_than: '14d', dry: 'true' } */
export function parseParamArgs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/i.exec(a);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(a)}: parameters are --name value`);
    const key = m[1]!.replace(/-/g, '_');
    if (m[2] !== undefined) out[key] = m[2];
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) out[key] = args[++i]!;
    else out[key] = 'true';
  }
  return out;
}

const fmt = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '-');

function printRuns(runs: JobRun[]): void {
  const rows = runs.map((r) => [String(r.id), r.job, r.trigger, r.status, String(r.attempt), fmt(r.startedAt), fmt(r.finishedAt), r.rowsAffected === null ? '-' : String(r.rowsAffected), r.error ?? '']);
  const head = ['id', 'job', 'trigger', 'status', 'try', 'started (UTC)', 'finished (UTC)', 'rows', 'error'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')}\n`);
}

const isHelp = (a: string) => a === '--help' || a === '-h';

/** The parameter names a job accepts, from its zod object schema (`older_than` -> `--older-than`). */
function jobParamFlags(def: JobDefinition<unknown>): string[] {
  const shape = (def.params as { shape?: Record<string, unknown> }).shape ?? {};
  return Object.keys(shape).map((k) => `--${k.replace(/_/g, '-')}`);
}

// `jobs run` takes free-form job parameters, so commander's own --help is off; this replaces it.
function runHelp(cmd: Command): string {
  const lines = [`Usage: orchestry-ingest jobs run <name> [--param value ...]`, '', cmd.description(), '', 'Jobs and their parameters:'];
  for (const j of JOBS) lines.push(`  ${j.name.padEnd(16)}${jobParamFlags(j).join(' ') || '(none)'}`);
  return `${lines.join('\n')}\n`;
}

export function registerJobCommands(program: Command): void {
  const jobs = program.command('jobs').description('scheduler jobs: list, run now, history');

  jobs
    .command('list')
    .description('the jobs, their schedules (cron, UTC) and what they do')
    .action(() => {
      const config = configOrExit();
      const s = config.scheduler.schedules as Record<string, string>;
      for (const j of JOBS) process.stdout.write(`${j.name.padEnd(16)}${(s[j.name] ?? '-').padEnd(16)}${j.description}\n`);
    });

  jobs
    .command('run')
    .description('run a job now and wait for it, e.g. `jobs run archive --older-than 14d` (exit 1 when it fails, 3 when it is already running)')
    .argument('<name>', 'job name (see `jobs list`)')
    .argument('[params...]', 'job parameters as --name value')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (name: string, rest: string[], _opts: unknown, cmd: Command) => {
      if (isHelp(name) || rest.some(isHelp)) {
        process.stdout.write(runHelp(cmd));
        return;
      }
      const config = configOrExit();
      let params: Record<string, string>;
      try {
        params = parseParamArgs(rest);
      } catch (err) {
        process.stderr.write(`orchestry-ingest: ${errorMessage(err)}\n`);
        process.exit(2);
      }
      const pool = poolFor(config, 'orchestry-ingest-jobs');
      const tty = process.stderr.isTTY;
      const runner = createRunner({
        config,
        pool,
        logger: loggerFor(config),
        workerId: `${config.workerId}-cli`,
        onProgress: (_run, p) => {
          if (tty) process.stderr.write(`\r\x1b[K${Object.entries(p).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`);
        },
      });
      try {
        const { runId, done } = await runner.trigger(name, params, 'cli');
        process.stderr.write(`run ${runId} of ${name} started\n`);
        const run = await done;
        if (tty) process.stderr.write('\n');
        printRuns([run]);
        process.exitCode = run.status === 'succeeded' ? 0 : 1;
      } catch (err) {
        const code = err instanceof IngestError ? err.code : undefined;
        process.stderr.write(`orchestry-ingest: ${errorMessage(err)}\n`);
        process.exitCode = code === 'E_JOB_RUNNING' ? 3 : code === 'E_SCHEMA' || code === 'E_JOB_UNKNOWN' ? 2 : 1;
      } finally {
        await runner.stop();
        await pool.end();
      }
    });

  jobs
    .command('runs')
    .description('the latest runs, newest first')
    .option('--job <name>', 'only this job')
    .option('--limit <n>', 'how many', '20')
    .action(async (opts: { job?: string; limit: string }) => {
      const config = configOrExit();
      const pool = poolFor(config, 'orchestry-ingest-jobs');
      try {
        const runner = createRunner({ config, pool, logger: loggerFor(config), workerId: config.workerId });
        printRuns(await runner.listRuns({ ...(opts.job ? { job: opts.job } : {}), limit: Number(opts.limit) || 20 }));
      } finally {
        await pool.end();
      }
    });

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
      const config = configOrExit();
      const pool = readPoolFor(config, 'orchestry-ingest-query');
      try {
        const { rows } = await pool.query<Record<string, number | string>>('SELECT * FROM orchestry_app_metrics_window($1, $2)', [opts.app, minutes]);
        const head = ['metric_type', 'avg_value', 'min_value', 'max_value', 'p50_value', 'p95_value', 'p99_value', 'data_points'];
        const cells = rows.map((r) => head.map((h) => (typeof r[h] === 'number' && h !== 'data_points' ? (r[h] as number).toFixed(3) : String(r[h]))));
        const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
        for (const r of [head, ...cells]) process.stdout.write(`${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}\n`);
      } finally {
        await pool.end();
      }
    });
}
