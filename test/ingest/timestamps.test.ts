// Timestamps are normalised once, to the microsecond PostgreSQL itself would store (rint on the
// fraction: halves to even), and the day partition comes from that same value. Checked against
// the real server, including the fractions that round across midnight.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { adminQuery } from '../helpers/db.ts';
import { timestamp, fractionMicros } from '../../src/ingest/contract.ts';
import { dayOf } from '../../src/partitions/index.ts';

/** What PostgreSQL stores for each string: µs since the epoch (exact) and the UTC day. */
async function postgresOf(values: string[]): Promise<{ us: bigint; day: string }[]> {
  const rows = await adminQuery<{ us: string; day: string }>(
    `SELECT ((extract(epoch FROM t) * 1000000)::numeric(30,0))::text AS us, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day
     FROM unnest($1::timestamptz[]) WITH ORDINALITY AS x(t, n) ORDER BY n`,
    [values],
  );
  return rows.map((r) => ({ us: BigInt(r.us), day: r.day }));
}

function ours(v: string): { us: bigint; day: string } {
  const t = timestamp.parse(v);
  const [whole, frac] = t.iso.slice(0, -1).split('.') as [string, string];
  return { us: BigInt(Date.parse(`${whole}Z`)) * 1000n + BigInt(frac), day: dayOf(t.ms) };
}

test('a fraction is rounded to µs as PostgreSQL rounds it, halves to even: checked against the server', async () => {
  const cases = [
    '2026-03-01T23:59:59.9999999Z', // rounds into the next day
    '2026-03-01T23:59:59.9999995Z',
    '2026-03-01T23:59:59.9999994Z',
    '2026-03-01T23:59:59.999999499Z',
    '2026-03-01T10:00:00.0000005Z',
    '2026-03-01T10:00:00.0000015Z',
    '2026-03-01T10:00:00.0000025Z',
    '2026-03-01T10:00:00.1234565Z',
    '2026-03-01T10:00:00.1234575Z',
    '2026-03-01T10:00:00.000000500Z',
    '2026-03-01T23:59:59.99999999+00:00',
    '2026-03-02T01:59:59.9999999+02:00',
    '2026-03-01 23:59:59.9999999Z',
    '2026-03-01T10:00:00Z',
  ];
  const pg = await postgresOf(cases);
  cases.forEach((v, i) => assert.deepEqual(ours(v), pg[i], v));
  assert.equal(ours('2026-03-01T23:59:59.9999999Z').day, '2026-03-02', 'the partition day is the day PostgreSQL stores');
  assert.equal(fractionMicros('0000005'), 0, 'an exact half rounds to even (0)');
  assert.equal(fractionMicros('0000015'), 2, 'an exact half rounds to even (2)');
});

test('any fraction of 1 to 9 digits near a half or a day boundary lands on the µs and the day PostgreSQL gives', async () => {
  const digits = fc.oneof(
    fc.stringMatching(/^\d{1,9}$/),
    fc.tuple(fc.stringMatching(/^\d{6}$/), fc.constantFrom('5', '50', '500', '499', '501', '9', '99', '999')).map(([a, b]) => a + b),
    fc.constantFrom('9999995', '9999999', '99999999', '999999500', '0000005'),
  );
  const sample = fc.sample(fc.tuple(fc.integer({ min: 0, max: 23 }), digits, fc.constantFrom('Z', '+00:00', '-05:30', '+14:00')), 400);
  const values = sample.map(([h, d, z]) => `2026-03-01T${String(h).padStart(2, '0')}:59:59.${d}${z}`);
  const pg = await postgresOf(values);
  const wrong = values.filter((v, i) => ours(v).us !== pg[i]!.us || ours(v).day !== pg[i]!.day);
  assert.deepEqual(wrong, []);
});
