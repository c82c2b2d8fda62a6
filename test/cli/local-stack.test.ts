// The compiled product has no local stack: `stack` and `start` (without a broker and a database)
// say they need a development checkout, while the other commands work from the compiled JavaScript.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoDir } from '../helpers/cli.ts';

// Inside node_modules so the compiled files resolve the project's dependencies, as dist/ does.
const out = join(repoDir, 'node_modules', '.cache', `orchestry-compiled-${randomBytes(4).toString('hex')}`);

before(() => {
  const tsc = spawnSync(process.execPath, [join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoDir, 'tsconfig.build.json'), '--outDir', out], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
after(async () => {
  await rm(out, { recursive: true, force: true });
});

function compiled(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(out, 'src', 'cli.js'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the compiled build holds the product only: no tools/ and no test support', () => {
  assert.ok(existsSync(join(out, 'src', 'cli.js')));
  assert.equal(existsSync(join(out, 'tools')), false);
  assert.equal(existsSync(join(out, 'test')), false);
});

test('`stack status` from the compiled build exits 1 saying it needs a development checkout', { timeout: 60_000 }, () => {
  const r = compiled(['stack', 'status']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /`orchestry-ingest stack` needs a development checkout .*tools\/stack\/.*KAFKA_BROKERS and DATABASE_URL/);
});

test('`start` without KAFKA_BROKERS and DATABASE_URL from the compiled build says the same', { timeout: 60_000 }, () => {
  const r = compiled(['start'], { LOG_LEVEL: 'silent' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /`orchestry-ingest start` without KAFKA_BROKERS and DATABASE_URL needs a development checkout/);
});

test('`config` runs from the compiled build', { timeout: 60_000 }, () => {
  const r = compiled(['config'], { DATABASE_URL: 'postgres://app:pa ss@db/orchestry' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^DATABASE_URL\s+postgres:\/\/app:\*\*\*\*@db\/orchestry$/m);
});
