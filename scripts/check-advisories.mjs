#!/usr/bin/env node
// Offline dependency check: compares every package in package-lock.json with the advisories the
// project keeps in security/advisories.json (npm audit's endpoints answer 405 from these machines).
//   node scripts/check-advisories.mjs [--lock FILE] [--advisories FILE] [--include-dev]
// Exit 0: no production package is affected; 1: one is (or a dev one with --include-dev); 2: bad input.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import semver from 'semver';

const STALE_DAYS = 90;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    lock: { type: 'string', default: join(root, 'package-lock.json') },
    advisories: { type: 'string', default: join(root, 'security', 'advisories.json') },
    'include-dev': { type: 'boolean', default: false },
  },
});

function fail(message) {
  process.stderr.write(`check-advisories: ${message}\n`);
  process.exit(2);
}

function readJson(file, what) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return fail(`cannot read ${what} ${file}: ${err.message}`);
  }
}

const lock = readJson(args.lock, 'lock file');
const list = readJson(args.advisories, 'advisory list');
if (!lock.packages || typeof lock.packages !== 'object') fail(`${args.lock} has no "packages" (lockfileVersion 2 or 3 is needed)`);
if (!Array.isArray(list.advisories)) fail(`${args.advisories} has no "advisories" array`);
for (const a of list.advisories) {
  if (!a.id || !a.package || !a.vulnerable || semver.validRange(a.vulnerable) === null) fail(`advisory ${JSON.stringify(a.id ?? a)} needs an id, a package and a valid semver range in "vulnerable"`);
}

// Every installed copy: "node_modules/a/node_modules/b" is package b; the name can also be given.
const installed = Object.entries(lock.packages).flatMap(([path, p]) => {
  if (!path || !p.version) return [];
  const name = p.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  return [{ name, version: p.version, path, dev: p.dev === true || p.devOptional === true }];
});

const hits = [];
for (const a of list.advisories) {
  for (const p of installed) {
    if (p.name === a.package && semver.satisfies(p.version, a.vulnerable, { includePrerelease: true })) hits.push({ ...a, ...p });
  }
}
const counted = hits.filter((h) => args['include-dev'] || !h.dev);
for (const h of hits) {
  const where = h.dev ? 'dev' : 'PRODUCTION';
  process.stdout.write(`${counted.includes(h) ? 'FAIL' : 'note'} ${where} ${h.name}@${h.version} (${h.path}): ${h.id} [${h.severity ?? 'unrated'}] ${h.title ?? ''} ${h.url ?? ''}\n`);
}
const ageDays = Math.floor((Date.now() - Date.parse(list.updated)) / 86_400_000);
if (!(ageDays <= STALE_DAYS)) process.stdout.write(`warning: ${args.advisories} was last reviewed ${list.updated ?? '(never)'}, more than ${STALE_DAYS} days ago\n`);
process.stdout.write(
  `checked ${installed.length} installed packages against ${list.advisories.length} advisories (list of ${list.updated}): ` +
    `${counted.length} affecting ${args['include-dev'] ? 'any' : 'production'} package(s), ${hits.length - counted.length} dev-only noted\n`,
);
process.exit(counted.length > 0 ? 1 : 0);
