// The offline dependency check (scripts/check-advisories.mjs): package-lock.json against the advisory
// list the project keeps; a production package in a vulnerable range fails it, a dev one is noted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoDir } from '../helpers/cli.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orchestry-advisories-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function check(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoDir, 'scripts', 'check-advisories.mjs'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function fixture(name: string, packages: Record<string, object>, advisories: object[], updated = new Date().toISOString().slice(0, 10)) {
  const lock = join(dir, `${name}.lock.json`);
  const list = join(dir, `${name}.advisories.json`);
  await writeFile(lock, JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'x' }, ...packages } }));
  await writeFile(list, JSON.stringify({ updated, advisories }));
  return ['--lock', lock, '--advisories', list];
}

const fastifyAdvisory = { id: 'GHSA-test-0001', package: 'fastify', vulnerable: '>=5.0.0 <5.3.2', severity: 'high', title: 'test' };

test("the project's own package-lock.json passes against its advisory list", () => {
  const r = check();
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /checked \d{3,} installed packages against \d+ advisories .*: 0 affecting production/);
});

test('a production package inside a vulnerable range fails the check and is named with the advisory', async () => {
  const r = check(...(await fixture('prod', { 'node_modules/fastify': { version: '5.3.1' }, 'node_modules/a/node_modules/fastify': { version: '5.3.2' } }, [fastifyAdvisory])));
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.out, /^FAIL PRODUCTION fastify@5\.3\.1 \(node_modules\/fastify\): GHSA-test-0001/m);
  assert.doesNotMatch(r.out, /fastify@5\.3\.2/, 'the fixed nested copy is not reported');
});

test('a dev-only package in a vulnerable range is noted, and fails only with --include-dev', async () => {
  const args = await fixture('dev', { 'node_modules/fastify': { version: '5.0.0', dev: true } }, [fastifyAdvisory]);
  const r = check(...args);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^note dev fastify@5\.0\.0/m);
  assert.equal(check(...args, '--include-dev').code, 1);
});

test('an advisory with an invalid range or a lock file without packages is refused with exit 2', async () => {
  const bad = check(...(await fixture('bad', { 'node_modules/fastify': { version: '5.0.0' } }, [{ ...fastifyAdvisory, vulnerable: 'not a range' }])));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /valid semver range/);
  const lock = join(dir, 'old.lock.json');
  await writeFile(lock, JSON.stringify({ lockfileVersion: 1, dependencies: {} }));
  const old = check('--lock', lock);
  assert.equal(old.code, 2);
  assert.match(old.err, /no "packages"/);
});

test('a list not reviewed for more than 90 days is reported as stale', async () => {
  const r = check(...(await fixture('stale', { 'node_modules/pg': { version: '8.16.0' } }, [fastifyAdvisory], '2020-01-01')));
  assert.equal(r.code, 0);
  assert.match(r.out, /^warning: .* last reviewed 2020-01-01, more than 90 days ago$/m);
});
