// Fuzzing the decoder with structure-aware generators: contract-shaped envelopes whose fields take
// any type, nesting 5,000+ deep, wide objects, huge strings, odd Unicode and broken bytes. Every
// message is a rejection with a known code or a decoded item, in bounded time; never a throw, never
// E_INTERNAL (which would mean the guard caught a decoder bug). It found a quadratic number pattern.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decode as decodeMessage, type DecodeLimits } from '../../src/ingest/decode/decode.ts';
import { LIFECYCLE_TYPES } from '../../src/ingest/contract.ts';
import type { TopicKind } from '../../src/ingest/chunk/item.ts';

const now = Date.now();
const limits: DecodeLimits = { messageMaxBytes: 1024 * 1024, minTsMs: now - 30 * 86_400_000, maxTsMs: now + 300_000 };
const CODES = new Set(['E_JSON', 'E_UTF8', 'E_SCHEMA', 'E_VERSION', 'E_OUT_OF_RANGE', 'E_NUL_BYTE', 'E_TOO_LARGE']);

const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff', '\ufeff', '\u202e', '𝔘𝔫𝔦', 'e\u0301', '\uffff', '__proto__', 'constructor', ''),
  fc.string({ maxLength: 5 }).map((s) => s.repeat(1000)),
);
const scalar = fc.oneof(oddString, fc.double(), fc.integer(), fc.constantFrom(true, false, null, 1e308, -0, 2 ** 53 + 1, 1e-50));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.dictionary(oddString, tie('value'), { maxKeys: 6 }),
})).value;

/** JSON text nested `depth` levels deep, alternating objects and arrays. */
const deep = fc.tuple(fc.integer({ min: 33, max: 20_000 }), fc.boolean()).map(([depth, arrays]) => {
  const open = arrays ? '[' : '{"k":';
  const close = arrays ? ']' : '}';
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
});
const wide = fc.integer({ min: 100, max: 20_000 }).map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))));
const huge = fc.integer({ min: 100_000, max: 1_500_000 }).map((n) => JSON.stringify('x'.repeat(n)));
/** A field's value as JSON text: anything, deep, wide or huge. */
/** A long run of digits ending in a non-digit: the input that makes an ambiguous number pattern backtrack. */
const digits = fc.integer({ min: 1000, max: 60_000 }).map((n) => JSON.stringify(`${'1'.repeat(n)}x`));
const fieldText = fc.oneof({ weight: 1, arbitrary: digits }, { weight: 6, arbitrary: json.map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: wide }, { weight: 1, arbitrary: huge });

const goodTs = fc.oneof(fc.constant(now), fc.constant(new Date(now).toISOString()), fc.constantFrom('2026-03-01T23:59:59.9999999Z', '9999-12-31T23:59:59.9999999Z', '0000-01-01T00:00:00Z'));
const FIELDS = ['v', 'app', 'container_id', 'ts', 'type', 'spec', 'labels', 'cpu_percent', 'memory_percent', 'memory_bytes', 'replica_index', 'port', 'ip', 'status', 'scaling', 'health_status', 'failures'];

/** An envelope close to the contract: valid fields by default, some replaced by arbitrary JSON text. */
const envelope = fc.record({
  type: fc.constantFrom(...LIFECYCLE_TYPES, 'nope'),
  ts: goodTs,
  replaced: fc.dictionary(fc.constantFrom(...FIELDS), fieldText, { maxKeys: 3 }),
  spec: fc.oneof(fc.constant(undefined), fieldText, json.map((scaling) => JSON.stringify({ spec: { image: 'x' }, scaling, healthCheck: scaling }))),
  section: fc.tuple(fc.constantFrom('cpuWeight', 'minReplicas', 'port', 'periodSeconds'), fieldText),
}).map(({ type, ts, replaced, spec, section }) => {
  const base: Record<string, string> = {
    v: '1', app: '"web"', container_id: '"c1"', ts: JSON.stringify(ts), type: JSON.stringify(type), cpu_percent: '1.5',
    container_name: '"n"', replica_index: '0', ip: '"10.0.0.1"', port: '80', health_status: '"healthy"', status: '"running"', from: '1', to: '2',
  };
  if (spec !== undefined) base.spec = spec;
  else if (type === 'app.registered') base.spec = `{"scaling":{"${section[0]}":${section[1]}},"healthCheck":{"port":80,"${section[0]}":${section[1]}}}`;
  const fields = { ...base, ...replaced };
  return Buffer.from(`{${Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
});

const rawBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), fc.constantFrom(Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('{"v":1,'), Buffer.alloc(0)));
const message = fc.record({
  kind: fc.constantFrom<TopicKind>('stats', 'lifecycle'),
  value: fc.oneof({ weight: 8, arbitrary: envelope }, { weight: 1, arbitrary: rawBytes }, { weight: 1, arbitrary: fc.constant(null) }),
  headers: fc.oneof(fc.constant({}), fc.constant({ 'orchestry.placeholder': Buffer.from('forged{"code":"E_TOO_LARGE","message":"x"}') })),
});

test('whatever a message holds, decoding gives a rejection with a known code or an item, never a throw', () => {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(message, ({ kind, value, headers }) => {
      const t0 = performance.now();
      const item = decodeMessage(kind, { offset: '7', key: null, value, headers }, limits);
      const ms = performance.now() - t0;
      assert.ok(ms < 3000, `decoding took ${ms.toFixed(0)} ms (a pattern or a walk that is not linear?)`);
      const outcomes = [item.rejected, item.stats ?? item.lifecycle, item.tombstone].filter((x) => x !== undefined);
      assert.equal(outcomes.length, 1, 'exactly one outcome');
      const label = item.rejected?.code ?? (item.tombstone ? 'tombstone' : 'item');
      seen.set(label, (seen.get(label) ?? 0) + 1);
      if (item.rejected) assert.ok(CODES.has(item.rejected.code), `${item.rejected.code}: ${item.rejected.message}`);
    }),
    { numRuns: 500 },
  );
  // The generators reach both sides and the interesting codes (guards against a vacuous run).
  for (const label of ['item', 'tombstone', 'E_JSON', 'E_UTF8', 'E_SCHEMA', 'E_TOO_LARGE']) assert.ok(seen.get(label), `${label} seen: ${JSON.stringify([...seen])}`);
});

test('a spec, a label or v nested 5,000 to 100,000 deep is rejected with its code, in either topic', () => {
  const decode = (kind: TopicKind, json: string) => decodeMessage(kind, { offset: '1', key: null, value: Buffer.from(json), headers: {} }, limits).rejected?.code;
  for (const depth of [5_000, 20_000, 100_000]) {
    for (const [bottom, code] of [['1', 'E_SCHEMA'], ['"\\u0000"', 'E_NUL_BYTE']] as const) {
      const nested = `${'{"a":'.repeat(depth)}${bottom}${'}'.repeat(depth)}`;
      assert.equal(decode('lifecycle', `{"v":1,"type":"app.registered","app":"a","ts":${now},"spec":${nested}}`), code, `spec ${depth} deep, ${bottom} at the bottom`);
      assert.equal(decode('stats', `{"v":1,"app":"a","container_id":"c","ts":${now},"labels":${nested}}`), 'E_SCHEMA', `labels ${depth} deep`);
    }
    assert.equal(decode('stats', `{"v":${'['.repeat(depth)}${']'.repeat(depth)},"app":"a"}`), 'E_VERSION', `v ${depth} deep`);
  }
});
