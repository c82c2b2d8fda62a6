// The stats decoder's fast path against the contract's zod schema: whatever the fast path accepts,
// the schema accepts with the same output, on generated valid messages and on messages with one
// field replaced by a hostile or edge value (written as JSON text, as a producer would send it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { METRIC_TYPES, statsMessage } from '../../../src/ingest/contract.ts';
import { fastStats } from '../../../src/ingest/decode/fast-stats.ts';
import { decodeStats } from '../../../src/ingest/decode/decode.ts';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);
const NOW = Date.UTC(2026, 11, 2);
const limits = { messageMaxBytes: 1 << 20, minTsMs: 0, maxTsMs: 253402300799999 };

/** What the schema gives for a parsed message, labels kept as parsed (as decodeWith keeps them). */
function viaSchema(json: Record<string, unknown>): { ok: true; value: unknown } | { ok: false } {
  const r = statsMessage.safeParse(json);
  if (!r.success) return { ok: false };
  const out = r.data as Record<string, unknown>;
  if (out.labels !== undefined) out.labels = json.labels;
  return { ok: true, value: out };
}

/** A message as JSON text from per-key JSON fragments (so "1e999", "-0" and lone surrogates go over the wire as such). */
const text = (fields: [string, string][]) => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

const str = (min: number, max: number) =>
  fc.oneof(fc.string({ minLength: min, maxLength: max }), fc.string({ unit: 'grapheme', minLength: min, maxLength: max }), fc.constantFrom('a', 'é', '🦀', 'tab\there', 'x'.repeat(max)));

const validMessage = fc.record(
  {
    app: str(1, 100).filter((s) => s.length > 0 && [...s].length <= 253),
    container_id: str(1, 64).filter((s) => s.length > 0),
    replica_index: fc.integer({ min: 0, max: 2147483647 }),
    ts: fc.oneof(
      fc.integer({ min: 0, max: 253402300799999 }),
      fc.integer({ min: NOW - 86_400_000, max: NOW }).map((ms) => new Date(ms).toISOString()),
      fc.constantFrom('2026-12-02T10:00:00.123456789+05:30', '2026-12-02 10:00:00Z', '2026-12-02t10:00:00.5z'),
    ),
    metrics: fc.dictionary(fc.constantFrom(...METRIC_TYPES), fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }).filter((n) => n === 0 || n > 1e-40), fc.integer({ min: 0, max: 2 ** 40 })), { minKeys: 1 }).map((f) => (f.memory_percent === undefined ? f : { ...f, memory_percent: Math.min(f.memory_percent, 100) })),
    labels: fc.dictionary(str(1, 40).filter((s) => s.length > 0 && s !== '__proto__'), str(0, 60), { maxKeys: 6 }),
  },
  { requiredKeys: ['app', 'container_id', 'ts', 'metrics'] },
).filter((m) => [m.app, m.container_id, ...Object.entries(m.labels ?? {}).flat()].every((s) => !s.includes('\u0000') && (s as string & { isWellFormed(): boolean }).isWellFormed()));

type Valid = typeof validMessage extends fc.Arbitrary<infer T> ? T : never;

function fragments(m: Valid): [string, string][] {
  const f: [string, string][] = [['v', '1'], ['app', JSON.stringify(m.app)], ['container_id', JSON.stringify(m.container_id)], ['ts', JSON.stringify(m.ts)]];
  if (m.replica_index !== undefined) f.push(['replica_index', String(m.replica_index)]);
  for (const [k, v] of Object.entries(m.metrics)) f.push([k, JSON.stringify(v)]);
  if (m.labels !== undefined) f.push(['labels', JSON.stringify(m.labels)]);
  return f;
}

test('the fast path accepts valid stats messages and gives exactly what the schema gives', () => {
  fc.assert(
    fc.property(validMessage, (m) => {
      const json = JSON.parse(text([...fragments(m), ['unknown_field', '{"x":[1,2]}']])) as Record<string, unknown>;
      const fast = fastStats(json);
      const slow = viaSchema(json);
      assert.ok(slow.ok, 'the generator makes valid messages');
      assert.notEqual(fast, undefined, `the fast path takes ${JSON.stringify(json).slice(0, 200)}`);
      assert.deepStrictEqual(fast, slow.value);
      assert.deepStrictEqual(Object.keys(fast!), Object.keys(slow.value as object), 'same keys in the same order');
    }),
    { numRuns: RUNS * 4 },
  );
});

/** Edge and hostile values as JSON text; each replaces (or adds) one field of a valid message. */
const HOSTILE = [
  'null', 'true', '[]', '{}', '""', '"x"', '0', '-0', '-1', '1.5', '1e999', '-1e999', '1e-50', '1e-45', '1.401298464324817e-45', '3.4028234663852886e38', '3.40282347e38', '3.5e38',
  '100', '100.00001', '9007199254740991', '9007199254740993', '2147483647', '2147483648', '253402300799999', '253402300800000',
  '"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"a\\udc00"', '"🦀"', `"${'x'.repeat(128)}"`, `"${'x'.repeat(129)}"`, `"${'x'.repeat(253)}"`, `"${'x'.repeat(254)}"`,
  `"${'🦀'.repeat(127)}"`, `"${'🦀'.repeat(129)}"`, `"${'é'.repeat(1024)}"`, `"${'x'.repeat(1025)}"`,
  '"2026-02-30T00:00:00Z"', '"2026-02-28T24:00:00Z"', '"9999-12-31T23:59:59.9999999Z"', '"0000-01-01T00:00:00+00:01"', '"2026-12-02T10:00:00"', '"2026-12-02T10:00:00.1234567890Z"',
  '{"__proto__":"x"}', '{"a":1}', '{"a":null}', '{"a":"\\u0000"}', '{"\\u0000":"a"}', '{"":"a"}', `{"${'k'.repeat(129)}":"a"}`, `{"a":"${'v'.repeat(1025)}"}`,
  `{${Array.from({ length: 64 }, (_, i) => `"k${i}":"v"`).join(',')}}`, `{${Array.from({ length: 65 }, (_, i) => `"k${i}":"v"`).join(',')}}`, '{"a":["b"]}',
];
const KEYS = ['app', 'container_id', 'replica_index', 'ts', 'labels', ...METRIC_TYPES];

test('on hostile and edge values, whatever the fast path accepts the schema accepts the same; the rest goes to the schema', () => {
  let taken = 0;
  let left = 0;
  fc.assert(
    fc.property(validMessage, fc.constantFrom(...KEYS), fc.constantFrom(...HOSTILE), (m, key, value) => {
      const f = fragments(m).filter(([k]) => k !== key);
      const json = JSON.parse(text([...f, [key, value]])) as Record<string, unknown>;
      const fast = fastStats(json);
      const slow = viaSchema(json);
      if (fast === undefined) {
        left++;
        return;
      }
      taken++;
      assert.ok(slow.ok, `the schema refuses what the fast path took: ${key}=${value}`);
      assert.deepStrictEqual(fast, slow.value);
    }),
    { numRuns: RUNS * 20 },
  );
  assert.ok(taken > 0 && left > 0, `both ways were exercised (taken ${taken}, left to the schema ${left})`);
  // Every hostile value once in every field, exhaustively.
  const base = fragments({ app: 'a', container_id: 'c', ts: NOW, metrics: { cpu_percent: 1 }, labels: { k: 'v' } });
  for (const key of KEYS) {
    for (const value of HOSTILE) {
      const json = JSON.parse(text([...base.filter(([k]) => k !== key), [key, value]])) as Record<string, unknown>;
      const fast = fastStats(json);
      if (fast === undefined) continue;
      const slow = viaSchema(json);
      assert.ok(slow.ok, `the schema refuses what the fast path took: ${key}=${value}`);
      assert.deepStrictEqual(fast, slow.value, `${key}=${value}`);
    }
  }
});

test('a message the fast path leaves to the schema is still decoded, or refused with the schema\'s words', () => {
  // 129 crabs are 258 UTF-16 units but 129 code points: too long for the fast path's unit count, valid for varchar(253).
  const long = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: '🦀'.repeat(129), container_id: 'c', ts: NOW, rps: 1 })), limits);
  assert.ok(long.ok);
  assert.equal(long.value.app, '🦀'.repeat(129));
  const proto = decodeStats(Buffer.from(`{"v":1,"app":"a","container_id":"c","ts":${NOW},"rps":1,"labels":{"__proto__":"x"}}`), limits);
  assert.ok(proto.ok);
  assert.equal(JSON.stringify(proto.value.labels), '{"__proto__":"x"}');
  const bad = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: NOW, memory_percent: 100.5 })), limits);
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, 'E_OUT_OF_RANGE');
  assert.match(bad.error.message, /^memory_percent: must be <= 100/);
  const late = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: NOW, rps: 1 })), { ...limits, maxTsMs: NOW - 1 });
  assert.ok(!late.ok, 'the fast path still applies the clock-skew bound');
  assert.equal(late.error.code, 'E_OUT_OF_RANGE');
});

test('a repeated timestamp is decoded once and shared; the next different one gets its own value', () => {
  const at = (ts: unknown) => fastStats({ v: 1, app: 'a', container_id: 'c', ts, rps: 1 })?.ts;
  const a = at(NOW);
  const b = at(NOW);
  assert.equal(a, b, 'the same object for the same ts in a row');
  assert.deepStrictEqual(a, { ms: NOW, iso: new Date(NOW).toISOString().replace('Z', '000Z') });
  assert.deepStrictEqual(at(NOW + 1), { ms: NOW + 1, iso: new Date(NOW + 1).toISOString().replace('Z', '000Z') });
  assert.equal(at(-1), undefined, 'an invalid ts is never cached as valid');
  assert.equal(at(-1), undefined);
  assert.ok(Object.is(at(0)!.ms, 0) && Object.is(at(-0)!.ms, -0), '0 and -0 are told apart, as the schema tells them');
  assert.deepStrictEqual(at('2026-12-02T10:00:00.5Z'), { ms: Date.UTC(2026, 11, 2, 10, 0, 0, 500), iso: '2026-12-02T10:00:00.500000Z' });
});
