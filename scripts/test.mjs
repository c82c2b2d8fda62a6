#!/usr/bin/env node
// `npm test`: brings up the local stack when KAFKA_BROKERS / DATABASE_URL are not given, runs
// every test file with Node's test runner (through tsx), and stops what it started.
// `npm test -- --faults` (npm run test:faults) runs the fault suite instead; extra arguments
// that are paths select test files.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const faults = args.includes('--faults');
const picked = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

let files = picked.length > 0 ? picked : walk(join(root, 'test')).filter((f) => faults === f.includes(`${join('test', 'faults')}`));
files = files.map((f) => relative(root, join(root, f.startsWith(root) ? relative(root, f) : f))).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const env = { ...process.env };
let startedStack = false;
const cli = join(root, 'bin', 'orchestry-ingest.js');
if (!env.KAFKA_BROKERS || !env.DATABASE_URL) {
  const status = spawnSync(process.execPath, [cli, 'stack', 'status'], { cwd: root, encoding: 'utf8' });
  const wasRunning = /kafka:\s+running/.test(status.stdout) && /postgres:\s+running/.test(status.stdout);
  console.error(wasRunning ? 'reusing the running local stack' : 'bringing up the local stack (Kafka + PostgreSQL)...');
  const up = spawnSync(process.execPath, [cli, 'stack', 'up'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
  if (up.status !== 0) {
    console.error('stack up failed');
    process.exit(1);
  }
  for (const line of up.stdout.split('\n')) {
    const m = /^(KAFKA_BROKERS|DATABASE_URL)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  startedStack = !wasRunning;
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=1', `--test-timeout=${faults ? 3_600_000 : 600_000}`, ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const stop = (sig) => child.kill(sig);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code, signal) => {
  if (startedStack) {
    console.error('stopping the local stack this run started');
    spawnSync(process.execPath, [cli, 'stack', 'down'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  process.exit(code ?? (signal ? 1 : 0));
});
