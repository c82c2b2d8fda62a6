// docker-compose.yml exposes nothing beyond the machine and has no default admin token: checked by
// reading the file and, where docker-compose is installed, by its own `config` check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoDir } from '../helpers/cli.ts';

const file = join(repoDir, 'docker-compose.yml');
const text = readFileSync(file, 'utf8');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

test('every published port is bound to 127.0.0.1', () => {
  const published = [...text.matchAll(/^\s+ports:\n((?:\s+- .*\n)+)/gm)].flatMap((m) => m[1]!.trim().split('\n').map((l) => l.trim().replace(/^- /, '')));
  assert.ok(published.length >= 3, `ports found: ${published.join(', ')}`);
  for (const p of published) assert.match(p, /^"127\.0\.0\.1:\d+:\d+"$/, p);
});

test('ADMIN_TOKEN has no default: the file requires it from the environment', () => {
  const lines = text.split('\n').filter((l) => /^\s+ADMIN_TOKEN:/.test(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /ADMIN_TOKEN: \$\{ADMIN_TOKEN:\?[^}]+\}$/);
});

test('docker-compose refuses the file without ADMIN_TOKEN or S3_SECRET_ACCESS_KEY and accepts it with both', { skip: !hasCompose && !process.env.CI ? 'docker-compose is not installed' : false }, () => {
  const env = { PATH: process.env.PATH ?? '' };
  const config = (extra: Record<string, string>) => spawnSync('docker-compose', ['-f', file, 'config', '-q'], { encoding: 'utf8', env: { ...env, ...extra } });
  const withoutToken = config({ S3_SECRET_ACCESS_KEY: 'a-secret-of-24-characters' });
  assert.notEqual(withoutToken.status, 0);
  assert.match(withoutToken.stderr, /ADMIN_TOKEN/);
  const withoutSecret = config({ ADMIN_TOKEN: 'a-token-of-24-characters' });
  assert.notEqual(withoutSecret.status, 0);
  assert.match(withoutSecret.stderr, /S3_SECRET_ACCESS_KEY/);
  const withBoth = config({ ADMIN_TOKEN: 'a-token-of-24-characters', S3_SECRET_ACCESS_KEY: 'a-secret-of-24-characters' });
  assert.equal(withBoth.status, 0, withBoth.stderr);
});
