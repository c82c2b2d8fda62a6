// On a terminal the worker logs pretty lines (pino-pretty); piped, it logs JSON (test/worker-logs.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { testTopics, type TestTopics } from '../helpers/kafka.ts';
import { repo, waitUntil, workerEnv } from '../helpers/worker.ts';

let db: TestDatabase;
let topics: TestTopics;

before(async () => {
  db = await freshDatabase();
  topics = await testTopics(1);
});

after(async () => {
  await db?.drop();
});

test('under a pseudo-terminal the worker writes coloured human lines, not JSON', async () => {
  const env = workerEnv(db.url, topics, { LOG_LEVEL: 'info' });
  delete (env as Record<string, string | undefined>).LOG_PRETTY;
  // util-linux `script` gives the command a pseudo-terminal, as a shell running `npm start` does.
  const child = spawn('script', ['-qfc', `${process.execPath} bin/orchestry-ingest.js run`, '/dev/null'], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await waitUntil('the worker to start', () => out.includes('worker started'), 60_000);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
  const first = out.split('\n').find((l) => l.includes('worker started'))!;
  assert.ok(first.includes('\u001b[32mINFO\u001b[39m'), `coloured level in ${JSON.stringify(first)}`);
  assert.match(stripVTControlCharacters(first), /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(orchestry-ingest\/\d+\): worker started/);
  assert.throws(() => JSON.parse(first));
});
