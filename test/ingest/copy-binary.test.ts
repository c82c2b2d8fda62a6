// The binary COPY encoder of metrics (addMetricRowsBinary) against the text encoder (addMetricRows):
// the same decoded messages loaded both ways land as the same rows, compared by SELECT on the
// server (values as PostgreSQL prints them). Property-based (fast-check), plus chunk boundaries.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { decodeStats, type DecodeLimits } from '../../src/ingest/decode/decode.ts';
import { METRIC_TYPES, type StatsMessage } from '../../src/ingest/contract.ts';
import { BinaryChunkBuilder, copyInto } from '../../src/ingest/copy.ts';
import { ChunkBuilder, METRICS_COPY, METRICS_COPY_BINARY, addMetricRows, addMetricRowsBinary, epochMicros } from '../../src/ingest/rows.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

const FLOAT4_MAX = 3.4028234663852886e38;
const limits: DecodeLimits = { messageMaxBytes: 4 * 1024 * 1024, minTsMs: 0, maxTsMs: 253402300799999 };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 100);
const TABLE = `(app_name VARCHAR(253) NOT NULL, metric_type VARCHAR(50) NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
  value REAL NOT NULL, labels JSONB, unit VARCHAR(20), aggregation_level VARCHAR(20))`;

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
  await db.pool.query(`CREATE TABLE bt ${TABLE}`);
  await db.pool.query(`CREATE TABLE bb ${TABLE}`);
});
after(async () => {
  await db?.drop();
});

const str = (min: number, max: number) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', minLength: min, maxLength: max }),
    fc.array(fc.constantFrom('\t', '\n', '\r', '\\', '\\N', '\\.', '"', '🦀', 'é', '\u2028', '\u007f', '\u0001'), { minLength: Math.max(min, 1), maxLength: 8 }).map((a) => a.join('')),
  ).filter((s) => !s.includes('\u0000') && [...s].length >= min && [...s].length <= max);

const num = fc.oneof(
  fc.double({ min: 1.401298464324817e-45, max: FLOAT4_MAX, noNaN: true }),
  fc.integer({ min: 0, max: 2 ** 31 }),
  fc.constantFrom(0, -0, FLOAT4_MAX, 1.401298464324817e-45, 1e-38, 0.1, 1e21, 123456789.123, 16777217),
);

/** Timestamps as producers send them: epoch ms, or RFC 3339 with up to 9 fraction digits (before and after 2000). */
const ts = fc.oneof(
  fc.integer({ min: 0, max: 4102444800000 }),
  fc.tuple(fc.integer({ min: 0, max: 4102444799 }), fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 9 })).map(([s, ns, digits]) => {
    const whole = new Date(s * 1000).toISOString().slice(0, 19);
    return digits === 0 ? `${whole}Z` : `${whole}.${String(ns).padStart(9, '0').slice(0, digits)}Z`;
  }),
);

const stats = fc.record({
  app: str(1, 253),
  container_id: str(1, 128),
  ts,
  labels: fc.dictionary(str(1, 128), str(0, 256), { maxKeys: 6 }),
  fields: fc.dictionary(fc.constantFrom(...METRIC_TYPES), num, { minKeys: 1 }),
}).map(({ fields, ...m }) => {
  const f = { ...fields };
  if (f.memory_percent !== undefined) f.memory_percent = Math.min(Math.abs(f.memory_percent), 100);
  if (f.memory_bytes !== undefined) f.memory_bytes = Math.min(f.memory_bytes, Number.MAX_SAFE_INTEGER);
  return { v: 1, ...m, ...f };
});

function decodeAll(raw: unknown[]): StatsMessage[] {
  return raw.flatMap((m) => {
    const d = decodeStats(Buffer.from(JSON.stringify(m)), limits);
    return d.ok ? [d.value] : [];
  });
}

const SELECT = (t: string) => `SELECT app_name, metric_type, timestamp::text AS ts, value::text AS value, labels::text AS labels, unit, aggregation_level FROM ${t} ORDER BY ctid`;

/** Loads `messages` by text COPY into bt and by binary COPY into bb; returns both row sets and counts. */
async function loadBoth(messages: StatsMessage[]): Promise<{ text: unknown[]; binary: unknown[]; n: [number, number]; chunks: number }> {
  const text = new ChunkBuilder();
  const bin = new BinaryChunkBuilder();
  for (const m of messages) assert.equal(addMetricRows(text, m), addMetricRowsBinary(bin, m));
  const client = await db.pool.connect();
  try {
    await client.query('TRUNCATE bt, bb');
    const binChunks = bin.done();
    const n: [number, number] = [await copyInto(client, METRICS_COPY.replace('COPY metrics', 'COPY bt'), text.done()), await copyInto(client, METRICS_COPY_BINARY.replace('COPY metrics', 'COPY bb'), binChunks)];
    return { text: (await client.query(SELECT('bt'))).rows, binary: (await client.query(SELECT('bb'))).rows, n, chunks: binChunks.length };
  } finally {
    client.release();
  }
}

test('binary COPY lands exactly the rows text COPY lands, for any message the decoder accepts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stats, { minLength: 1, maxLength: 20 }), async (raw) => {
      const messages = decodeAll(raw);
      if (messages.length === 0) return;
      const r = await loadBoth(messages);
      assert.equal(r.n[0], r.n[1]);
      assert.equal(r.binary.length, r.n[0]);
      assert.deepEqual(r.binary, r.text);
    }),
    { numRuns: RUNS },
  );
});

test('binary COPY across chunk boundaries and with one row larger than a chunk', async () => {
  const big = { zone: 'a', ...Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, '🦀'.repeat(1024)])) };
  const raw = [
    ...Array.from({ length: 3000 }, (_, i) => ({ v: 1, app: `app-${i % 7}`, container_id: `c-${i}`, ts: 1_700_000_000_000 + i, cpu_percent: i / 7, rps: i, labels: { node: `n${i % 3}` } })),
    { v: 1, app: 'huge', container_id: 'c-huge', ts: '1999-12-31T23:59:59.9999995Z', cpu_percent: 1.5, memory_bytes: 2 ** 40, labels: big },
  ];
  const messages = decodeAll(raw);
  assert.equal(messages.length, raw.length, 'the decoder accepts every message of this test');
  const r = await loadBoth(messages);
  assert.ok(r.chunks >= 3, `several 256 KB chunks (got ${r.chunks})`);
  assert.equal(r.n[1], 3000 * 2 + 2);
  assert.deepEqual(r.binary, r.text);
});

test('epochMicros reads the microseconds the decoder normalised, before and after 2000', () => {
  const at = (t: string | number) => {
    const d = decodeStats(Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: t, rps: 1 })), limits);
    assert.ok(d.ok);
    return epochMicros(d.value.ts);
  };
  assert.equal(at('1999-12-31T23:59:59.9999995Z'), 946_684_800_000_000); // rounds (half to even) into 2000
  assert.equal(at('1970-01-01T00:00:00.000001Z'), 1);
  assert.equal(at(1_700_000_000_123), 1_700_000_000_123_000);
  assert.equal(at('2026-12-01T09:00:00.123456789Z'), Date.UTC(2026, 11, 1, 9) * 1000 + 123_457);
});
