// jobs list | jobs run NAME [--param value ...] | jobs runs [--job NAME]. Runs started here are
// `cli` runs in job_runs, under the same one-at-a-time lock as the worker's scheduler.
import type { Command } from 'commander';
import { IngestError, errorMessage } from '../errors.ts';
import { createRunner, JOBS } from '../scheduler/index.ts';
import type { JobDefinition } from '../scheduler/job.ts';
import type { JobRun } from '../scheduler/types.ts';
import { configOrExit, loggerFor, poolFor } from './context.ts';
import { printTable } from './table.ts';

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
  printTable(['id', 'job', 'trigger', 'status', 'try', 'started (UTC)', 'finished (UTC)', 'rows', 'error'], rows);
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

/** `jobs run`'s exit code for an error: 3 already running, 2 unknown job or bad parameters, else 1. */
function exitCodeOf(err: unknown): number {
  const code = err instanceof IngestError ? err.code : undefined;
  return code === 'E_JOB_RUNNING' ? 3 : code === 'E_JOB_PARAMS' || code === 'E_JOB_UNKNOWN' ? 2 : 1;
}

/** Runs job `name` now as a `cli` run and waits for it; progress on a terminal. */
async function runJobNow(name: string, rest: string[]): Promise<void> {
  const config = configOrExit({ require: ['DATABASE_URL'] });
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
    process.stderr.write(`orchestry-ingest: ${errorMessage(err)}\n`);
    process.exitCode = exitCodeOf(err);
  } finally {
    await runner.stop();
    await pool.end();
  }
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
      if (isHelp(name) || rest.some(isHelp)) process.stdout.write(runHelp(cmd));
      else await runJobNow(name, rest);
    });

  jobs
    .command('runs')
    .description('the latest runs, newest first')
    .option('--job <name>', 'only this job')
    .option('--limit <n>', 'how many', '20')
    .action(async (opts: { job?: string; limit: string }) => {
      const config = configOrExit({ require: ['DATABASE_URL'] });
      const pool = poolFor(config, 'orchestry-ingest-jobs');
      try {
        const runner = createRunner({ config, pool, logger: loggerFor(config), workerId: config.workerId });
        printRuns(await runner.listRuns({ ...(opts.job ? { job: opts.job } : {}), limit: Number(opts.limit) || 20 }));
      } finally {
        await pool.end();
      }
    });
}
