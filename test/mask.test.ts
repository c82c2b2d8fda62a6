// Masking for display: `orchestry-ingest config` and configuration errors never show a URL password,
// whatever its characters, and never echo a URL that does not parse.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, describeConfig, loadConfig } from '../src/config.ts';
import { mask, maskConnectionUrl, UNPARSABLE_URL } from '../src/mask.ts';
import { runCliClean as runCli } from './helpers/cli.ts';

/** Passwords that a pattern-based mask let through, each with a marker the output must not contain. */
const HOSTILE = [
  'pa ss1234',
  'pa"ss1234',
  "pa'ss1234",
  'p@ss@word1234',
  'p%ss:wo rd1234',
  'p%40ss1234',
  'pa/ss?1234#x',
  'pa ss"@:%1234',
];

/** The parts of a password that must not appear: the whole and its long runs (encoded or not). */
function leaks(text: string, password: string): string[] {
  const pieces = [password, encodeURIComponent(password), ...password.split(/[ "'@%:/?#]/).filter((p) => p.length >= 4)];
  return pieces.filter((p) => text.includes(p));
}

test('a parsable connection URL is shown with its password masked, whatever characters the password holds', () => {
  let checked = 0;
  for (const pw of HOSTILE) {
    const url = `postgres://app:${pw}@db.internal:5432/orchestry`;
    if (!URL.canParse(url)) continue;
    checked++;
    const shown = mask('DATABASE_URL', url);
    assert.match(shown, /^postgres:\/\/app:\*\*\*\*@db\.internal:5432\/orchestry/, `${JSON.stringify(url)} -> ${shown}`);
    assert.deepEqual(leaks(shown, pw), [], `${JSON.stringify(url)} -> ${shown}`);
  }
  assert.ok(checked >= 6, `only ${checked} of the hostile URLs parse`);
});

test('a password given as a query parameter is masked, and the other parameters are kept', () => {
  const shown = maskConnectionUrl('postgresql://app@db/orchestry?sslmode=require&password=pa%20ss1234');
  assert.equal(shown, 'postgresql://app@db/orchestry?sslmode=require&password=****');
});

test('a URL that does not parse is never shown', () => {
  assert.equal(maskConnectionUrl('postgres://app:pa ss1234@db:99999/orchestry'), undefined);
  assert.equal(mask('DATABASE_URL', 'postgres://app:pa ss1234@db:99999/orchestry'), UNPARSABLE_URL);
  assert.equal(mask('DATABASE_REPLICA_URL', 'postgres://app:p"w1234@[::1/orchestry'), UNPARSABLE_URL);
});

test('a configuration error names an unparsable URL variable without echoing its value', () => {
  const url = 'postgres://app:pa ss"1234@db:99999/orchestry';
  assert.throws(
    () => loadConfig({ DATABASE_URL: url }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /DATABASE_URL: is not a valid URL \(value not shown: not a parsable URL\)/);
      assert.deepEqual(leaks(err.message, 'pa ss"1234'), []);
      assert.ok(!err.message.includes('db:99999'));
      return true;
    },
  );
});

test('describeConfig masks URL passwords with spaces, quotes, @, % and colons', () => {
  let checked = 0;
  for (const pw of HOSTILE) {
    const url = `postgres://app:${pw}@db/orchestry`;
    if (!URL.canParse(url)) continue;
    checked++;
    const out = describeConfig({ DATABASE_URL: url, DATABASE_REPLICA_URL: url.replace('@db', '@replica') });
    for (const key of ['DATABASE_URL', 'DATABASE_REPLICA_URL'] as const) {
      assert.match(out[key] ?? '', /^postgres:\/\/app:\*\*\*\*@/, `${key} for ${JSON.stringify(pw)}: ${out[key]}`);
      assert.deepEqual(leaks(out[key] ?? '', pw), []);
    }
  }
  assert.ok(checked >= 6, `only ${checked} of the hostile URLs parse`);
});

test('orchestry-ingest config prints a password with a space and a quote masked', { timeout: 90_000 }, async () => {
  const r = await runCli(['config'], { DATABASE_URL: 'postgres://app:pa ss1234@db:5432/orchestry', DATABASE_REPLICA_URL: 'postgres://app:pa"ss1234@replica/orchestry' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^DATABASE_URL\s+postgres:\/\/app:\*\*\*\*@db:5432\/orchestry$/m);
  assert.match(r.stdout, /^DATABASE_REPLICA_URL\s+postgres:\/\/app:\*\*\*\*@replica\/orchestry$/m);
  assert.ok(!r.stdout.includes('ss1234'), r.stdout);
});

test('orchestry-ingest config exits 2 on an unparsable URL and does not echo it', { timeout: 90_000 }, async () => {
  const r = await runCli(['config'], { DATABASE_URL: 'postgres://app:pa ss"1234@db:99999/orchestry', HTTP_PORT: '70000' });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^\s+DATABASE_URL: .*value not shown/m);
  assert.match(r.stderr, /^\s+HTTP_PORT: /m);
  assert.ok(!r.stderr.includes('ss"1234') && !r.stderr.includes('ss1234') && !r.stderr.includes('99999'), r.stderr);
});
