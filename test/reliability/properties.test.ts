// Property tests (fast-check) of the decoder and the COPY row encoder: what the contract accepts
// round-trips exactly through PostgreSQL (metrics.value is REAL: compared as Math.fround).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { decodeLifecycle, decodeStats, type DecodeLimits } from '../../src/ingest/decode/decode.ts';
import { METRIC_TYPES, METRIC_UNITS } from '../../src/ingest/contract.ts';
import { copyInto, copyText } from '../../src/ingest/copy.ts';
import { ChunkBuilder, METRICS_COPY, addMetricRows } from '../../src/ingest/rows.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const FLOAT4_MAX = 3.4028234663852886e38;
/** The smallest positive REAL (a denormal); PostgreSQL refuses what strtof rounds to 0. */
const FLOAT4_MIN_DENORMAL = 1.401298464324817e-45;
const NOW = Date.now();
const limits: DecodeLimits = { messageMaxBytes: 1024 * 1024, minTsMs: NOW - 7 * 86_400_000, maxTsMs: NOW + 300_000 };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
  await db.pool.query(`CREATE TABLE pm (app_name VARCHAR(253) NOT NULL, metric_type VARCHAR(50) NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
    value REAL NOT NULL, labels JSONB, unit VARCHAR(20), aggregation_level VARCHAR(20))`);
});
after(async () => {
  await db?.drop();
});

const codePoints = (s: string) => [...s].length;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/** Strings as a JSON producer may send them; `unit` picks the alphabet. */
const str = (min: number, max: number, unit: 'grapheme' | 'binary' = 'grapheme') =>
  fc
    .oneof(
      fc.string({ unit, minLength: min, maxLength: max }),
      // Characters COPY and JSON must escape, mixed in on purpose.
      fc.array(fc.constantFrom('\t', '\n', '\r', '\\', '\\N', '\\.', '"', "'", '🦀', 'é', '\u2028', '\u007f', '$1', ';'), { minLength: Math.max(min, 1), maxLength: 8 }).map((a) => a.join('')),
    )
    .filter((s) => !s.includes('\u0000') && codePoints(s) >= min && codePoints(s) <= max);

/** Non-negative numbers the contract's REAL fields accept, `tiny` including magnitudes below REAL's smallest. */
const num = (tiny: boolean) =>
  fc.oneof(
    fc.double({ min: 0, max: FLOAT4_MAX, noNaN: true, noDefaultInfinity: true }),
    fc.integer({ min: 0, max: 2 ** 31 }),
    fc.constantFrom(0, FLOAT4_MAX, FLOAT4_MIN_DENORMAL, 1e-38, 0.1, 1e21, 123456789.123),
  ).filter((n) => tiny || n === 0 || n >= FLOAT4_MIN_DENORMAL);

function statsArb(unit: 'grapheme' | 'binary', tiny: boolean) {
  return fc.record(
    {
      app: str(1, 253, unit),
      container_id: str(1, 128, unit),
      ts: fc.integer({ min: limits.minTsMs + 60_000, max: NOW }),
      labels: fc.dictionary(str(1, 128, unit), str(0, 1024, unit), { maxKeys: 8 }),
      fields: fc.dictionary(fc.constantFrom(...METRIC_TYPES), num(tiny), { minKeys: 1 }),
    },
    { requiredKeys: ['app', 'container_id', 'ts', 'labels', 'fields'] },
  ).map(({ fields, labels, ...m }) => {
    const f = { ...fields };
    if (f.memory_percent !== undefined) f.memory_percent = Math.min(f.memory_percent, 100);
    if (f.memory_bytes !== undefined) f.memory_bytes = Math.min(f.memory_bytes, Number.MAX_SAFE_INTEGER);
    delete (labels as Record<string, string>).container_id;
    return { v: 1, ...m, ...f, labels };
  });
}

/** Encodes the decoded messages with the worker's COPY encoder, loads them, and compares every row. */
async function roundTrip(messages: ReturnType<typeof statsArb> extends fc.Arbitrary<infer T> ? T[] : never, opts: { allowRejected?: boolean } = {}): Promise<void> {
  const out = new ChunkBuilder();
  const decoded = messages.flatMap((m) => {
    const d = decodeStats(Buffer.from(JSON.stringify(m)), limits);
    if (!d.ok && opts.allowRejected) {
      assert.match(d.error.code, /^E_(SCHEMA|OUT_OF_RANGE)$/);
      return [];
    }
    assert.ok(d.ok, `the decoder accepts ${JSON.stringify(m).slice(0, 300)}: ${d.ok ? '' : d.error.message}`);
    return [d.value];
  });
  if (decoded.length === 0) return;
  for (const d of decoded) addMetricRows(out, d);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('TRUNCATE pm');
    const n = await copyInto(client, METRICS_COPY.replace('COPY metrics', 'COPY pm'), out.done());
    const { rows } = await client.query<{ app_name: string; metric_type: string; timestamp: Date; value: number; labels: Record<string, string>; unit: string; aggregation_level: string }>(
      'SELECT * FROM pm',
    );
    await client.query('COMMIT');
    const expected = decoded.flatMap((d) => METRIC_TYPES.filter((t) => d[t] !== undefined).map((t) => ({ d, t })));
    assert.equal(n, expected.length);
    assert.equal(rows.length, expected.length);
    expected.forEach(({ d, t }, i) => {
      const r = rows[i]!;
      assert.equal(r.app_name, d.app);
      assert.equal(r.metric_type, t);
      assert.equal(r.timestamp.getTime(), d.ts.ms);
      assert.ok(Object.is(Math.fround(r.value), Math.fround(d[t]!)) || (r.value === 0 && d[t] === 0), `${t}: ${r.value} vs ${d[t]}`);
      assert.deepEqual(r.labels, { ...(d.labels ?? {}), container_id: d.container_id });
      assert.equal(r.unit, METRIC_UNITS[t]);
      assert.equal(r.aggregation_level, 'instance');
    });
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

test('the decoder accepts every message the contract allows and keeps each value as it was sent', () => {
  fc.assert(
    fc.property(statsArb('binary', false).filter((m) => [m.app, m.container_id, ...Object.entries(m.labels).flat()].every(wellFormed)), (m) => {
      const d = decodeStats(Buffer.from(JSON.stringify(m)), limits);
      assert.ok(d.ok, d.ok ? '' : d.error.message);
      assert.equal(d.value.app, m.app);
      assert.equal(d.value.container_id, m.container_id);
      assert.equal(d.value.ts.ms, m.ts);
      assert.deepEqual(d.value.labels, JSON.parse(JSON.stringify(m.labels)));
      for (const t of METRIC_TYPES) assert.equal(d.value[t], (m as Record<string, unknown>)[t]);
    }),
    { numRuns: RUNS * 4 },
  );
});

test('the decoder never throws, whatever the bytes', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => new TextEncoder().encode(j)), fc.jsonValue().map((j) => new TextEncoder().encode(JSON.stringify({ v: 1, ...(typeof j === 'object' && j && !Array.isArray(j) ? j : { x: j }) })))), (bytes) => {
      const b = Buffer.from(bytes);
      for (const d of [decodeStats(b, limits), decodeLifecycle(b, limits)]) {
        if (!d.ok) assert.match(d.error.code, /^E_[A-Z0-9_]+$/); // E_UTF8 has a digit
      }
    }),
    { numRuns: RUNS * 10 },
  );
});

test('timestamps: epoch ms and RFC 3339 with any offset and up to 6 fraction digits give the same instant', () => {
  fc.assert(
    fc.property(fc.integer({ min: limits.minTsMs + 86_400_000, max: NOW - 86_400_000 }), fc.integer({ min: -14 * 60, max: 14 * 60 }), fc.integer({ min: 0, max: 999 }), (ms, offMin, micros) => {
      const local = new Date(ms + offMin * 60_000).toISOString().slice(0, 23);
      const off = `${offMin < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offMin) / 60)).padStart(2, '0')}:${String(Math.abs(offMin) % 60).padStart(2, '0')}`;
      const text = `${local}${String(micros).padStart(3, '0')}${off}`;
      const a = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: ms, rps: 1 })), limits);
      const b = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: text, rps: 1 })), limits);
      assert.ok(a.ok && b.ok, text);
      assert.equal(a.value.ts.ms, ms);
      assert.equal(b.value.ts.ms, ms);
    }),
    { numRuns: RUNS * 4 },
  );
});

test('COPY text escaping is reversible for any string', () => {
  const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? `\\${c}`);
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const e = copyText(s);
      assert.ok(!/[\t\n\r]/.test(e));
      assert.equal(unescape(e), s);
    }),
    { numRuns: RUNS * 10 },
  );
});

test('any well-formed string and any REAL-representable number the contract allows round-trips exactly through COPY into PostgreSQL', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(statsArb('grapheme', false), { minLength: 1, maxLength: 20 }), async (batch) => roundTrip(batch)),
    { numRuns: RUNS },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(statsArb('binary', false).filter((m) => [m.app, m.container_id, ...Object.entries(m.labels).flat()].every(wellFormed)), { minLength: 1, maxLength: 20 }), async (batch) => roundTrip(batch)),
    { numRuns: RUNS },
  );
});

test(
  'any string and number a producer can send is either refused by the decoder or round-trips exactly (lone surrogates, magnitudes below REAL)',
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(statsArb('binary', true), { minLength: 1, maxLength: 20 }), async (batch) => roundTrip(batch, { allowRejected: true })),
      { numRuns: RUNS, examples: [[[{ v: 1, app: 'a', container_id: 'c', ts: NOW - 1000, rps: 1e-50, labels: {} }]], [[{ v: 1, app: 'a\uD800', container_id: 'c', ts: NOW - 1000, rps: 1, labels: {} }]]] as never },
    );
  },
);
