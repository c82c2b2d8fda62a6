// Runs the real CLI as a child process without blocking this process's event loop (an in-process
// worker keeps consuming meanwhile).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repo } from './worker.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
