// Runs the real CLI (bin/orchestry-ingest.js) as a child process, without blocking this process's
// event loop (an in-process worker keeps consuming meanwhile), for tests of its output and exit codes.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repo } from './worker.ts';

export const repoDir = repo;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with this process's environment plus `env`; killed after `timeoutMs`. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with exactly `env` (plus PATH and HOME), so nothing leaks in from the test's environment; killed after 60 s. */
export function runCliClean(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), ...args], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
