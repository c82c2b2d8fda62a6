// The scaling and healthCheck sections of app.registered: the decoder refuses what PostgreSQL's
// casts and check constraints would refuse (so no batch is split to find it), every section it
// accepts is applied by the real server without error, and the JSON Schema lists the sections.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { contractJsonSchema } from '../../src/ingest/contract.ts';
import { decodeLifecycle } from '../../src/ingest/decode/decode.ts';

const limits = { messageMaxBytes: 1 << 20, minTsMs: 0, maxTsMs: Date.now() + 86_400_000 };
const decode = (spec: unknown) => decodeLifecycle(Buffer.from(JSON.stringify({ v: 1, type: 'app.registered', app: 'web', ts: Date.now(), spec })), limits);
const codeOf = (spec: unknown) => {
  const d = decode(spec);
  return d.ok ? 'ok' : d.error.code;
};

let db: TestDatabase;
before(async () => {
  db = await freshDatabase();
  await db.pool.query(`INSERT INTO applications (name, spec, status) VALUES ('web', '{}', 'registered')`);
});
after(async () => db?.drop());

test('malformed or out-of-range sections are the decoder\'s rejections, with E_SCHEMA or E_OUT_OF_RANGE', () => {
  assert.equal(codeOf({ scaling: { minReplicas: 'x' } }), 'E_SCHEMA');
  assert.equal(codeOf({ spec: { scaling: { max_replicas: true } } }), 'E_SCHEMA');
  assert.equal(codeOf({ scaling: { minReplicas: 5, maxReplicas: 2 } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ scaling: { min_replicas: -1 } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ scaling: { scaleInThresholdPct: 90 } }), 'E_OUT_OF_RANGE', 'scale-in must stay below the default scale-out of 80');
  assert.equal(codeOf({ scaling: { cpuWeight: -0.5 } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ scaling: 'fast' }), 'E_SCHEMA');
  assert.equal(codeOf({ healthCheck: { path: '/h' } }), 'E_SCHEMA', 'port is required');
  assert.equal(codeOf({ health_check: { port: 70000 } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ spec: { healthCheck: { port: 80, protocol: 'UDP' } } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ healthCheck: { port: 80, periodSeconds: 0 } }), 'E_OUT_OF_RANGE');
  assert.equal(codeOf({ healthCheck: { port: 80, expectedStatusCodes: null } }), 'E_SCHEMA');
  assert.equal(codeOf({ spec: { replicas: 'three' } }), 'E_SCHEMA');
  // Sections the database accepts are accepted: strings of integers, snake_case, null sections.
  assert.equal(codeOf({ scaling: { minReplicas: '2', max_replicas: 4, cpuWeight: '0.5' }, healthCheck: { port: '8080', method: 'get', enabled: 'yes' } }), 'ok');
  assert.equal(codeOf({ scaling: null, spec: { image: 'nginx', replicas: '' } }), 'ok');
});

const intLike = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 60 }) }, fc.integer({ min: -5, max: 400 }), fc.integer({ min: -5, max: 400 }).map(String), fc.constantFrom('x', '', ' 7 ', '1.5', true, null, 2 ** 31, [1]));
const realLike = fc.oneof(fc.double({ min: -2, max: 200, noNaN: true }), fc.constantFrom('0.5', '1e3', 'abc', false, null, 1e39));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const scaling = fc.record({ minReplicas: maybe(intLike), max_replicas: maybe(intLike), scaleOutThresholdPct: maybe(intLike), scale_in_threshold_pct: maybe(intLike), cpuWeight: maybe(realLike), latency_weight: maybe(realLike), cooldownSeconds: maybe(intLike) }, { requiredKeys: [] });
const health = fc.record({
  port: maybe(intLike), protocol: maybe(fc.constantFrom('http', 'TCP', 'udp', 5)), method: maybe(fc.constantFrom('GET', 'post', 'PATCH')), path: maybe(fc.string({ maxLength: 600 })),
  periodSeconds: maybe(intLike), initial_delay_seconds: maybe(intLike), expectedStatusCodes: maybe(fc.array(intLike, { maxLength: 3 })), enabled: maybe(fc.constantFrom(true, false, 'no', 'maybe')),
}, { requiredKeys: [] });

test('every generated section the decoder accepts is applied by PostgreSQL without error', async () => {
  const specs = fc.sample(fc.record({ scaling: maybe(scaling), healthCheck: maybe(health), spec: maybe(fc.record({ scaling: maybe(scaling), health_check: maybe(health) }, { requiredKeys: [] })) }, { requiredKeys: [] }), { numRuns: 600, seed: 11 });
  const failures: string[] = [];
  let accepted = 0;
  const client = await db.pool.connect();
  try {
    for (const spec of specs) {
      if (!decode(spec).ok) continue;
      accepted++;
      await client.query('BEGIN');
      try {
        await client.query('SELECT orchestry_apply_spec_sections($1, $2::jsonb)', ['web', JSON.stringify(spec)]);
      } catch (err) {
        failures.push(`${JSON.stringify(spec)}: ${(err as Error).message}`);
      } finally {
        await client.query('ROLLBACK');
      }
    }
  } finally {
    client.release();
  }
  assert.deepEqual(failures.slice(0, 5), []);
  assert.ok(accepted >= 10 && accepted < specs.length, `${accepted} of ${specs.length} accepted: the sample has both kinds`);
});

test('the published JSON Schema lists the scaling and healthCheck sections with their fields', () => {
  const text = JSON.stringify(contractJsonSchema().lifecycle);
  for (const name of ['scaling', 'healthCheck', 'health_check', 'minReplicas', 'min_replicas', 'expectedStatusCodes', 'periodSeconds']) assert.ok(text.includes(`"${name}"`), name);
});
