// The quantile sketch and orchestry_app_metrics_window against the exact answer over raw rows:
// the mapping's error bound at bucket edges, and a fast-check property over random distributions
// and window lengths, through the real rollups job. Prints the worst relative errors seen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { rng } from '../../bench/load.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runJob, testConfig } from './helpers.ts';
import { ALPHA, assertWindowMatches, writeLikeWriter, type Sample } from './window-check.ts';

let db: TestDatabase;
const config = () => testConfig(db.url);

before(async () => {
  db = await freshDatabase();
  await runJob(db.pool, config(), 'partitions');
  await runJob(db.pool, config(), 'rollups');
});
after(async () => {
  await db?.drop();
});

const GAMMA = (1 + ALPHA) / (1 - ALPHA);

test('every REAL value maps to a key whose value is within alpha of it, at bucket edges and beyond', async () => {
  const values: number[] = [1, 0.5, 100, 1e-30, 3e38, 1.5e-45, 7.25];
  for (const k of [-5000, -1000, -1, 0, 1, 2, 37, 500, 4000]) {
    const edge = GAMMA ** k;
    for (const f of [1 - 1e-15, 1, 1 + 1e-15, 1 + 1e-7]) values.push(Math.fround(edge * f), edge * f);
  }
  const all = values.filter((v) => v > 0 && Number.isFinite(v) && Math.fround(v) !== 0).flatMap((v) => [v, -v]);
  const { rows } = await db.pool.query<{ v: number; k: number; est: number }>(
    `SELECT v, orchestry_sketch_key(v) AS k, orchestry_sketch_value(orchestry_sketch_key(v)) AS est FROM unnest($1::float8[]) AS v`,
    [all],
  );
  let worst = 0;
  for (const r of rows) {
    const err = Math.abs(r.est - r.v) / Math.abs(r.v);
    worst = Math.max(worst, err);
    assert.ok(err <= ALPHA * (1 + 1e-9), `value ${r.v} -> key ${r.k} -> ${r.est}: relative error ${err}`);
    assert.ok(r.v > 0 ? r.k > -20000 && r.k < 10000 : r.k < -20000, `key ${r.k} of ${r.v} is in its sign's range`);
  }
  const { rows: zero } = await db.pool.query(`SELECT orchestry_sketch_key(0) AS k, orchestry_sketch_value(orchestry_sketch_key(0)) AS v`);
  assert.deepEqual(zero, [{ k: -20000, v: 0 }]);
  console.log(`# sketch mapping: worst relative error at bucket edges ${worst.toExponential(3)} (alpha ${ALPHA})`);
});

test('keys sort by value across negatives, zero and positives, and a merge adds counts per key', async () => {
  const { rows } = await db.pool.query(
    `SELECT array_agg(v ORDER BY orchestry_sketch_key(v)) AS by_key, array_agg(v ORDER BY v) AS by_value
       FROM unnest(ARRAY[-1e30, -50, -1, -0.001, 0, 0.001, 1, 50, 1e30]::float8[]) AS v`,
  );
  assert.deepEqual(rows[0].by_key, rows[0].by_value);
  const { rows: m } = await db.pool.query(`SELECT (orchestry_sketch_merge(ARRAY[5, -20000, 5, 3], ARRAY[1, 2, 3, 4]::bigint[])).*`);
  assert.deepEqual(m, [{ keys: [-20000, 3, 5], counts: ['2', '4', '4'] }]);
});

type Shape = 'uniform' | 'bimodal' | 'lognormal' | 'pareto' | 'constant' | 'zeros-negatives' | 'trend';
const SHAPES: Shape[] = ['uniform', 'bimodal', 'lognormal', 'pareto', 'constant', 'zeros-negatives', 'trend'];

function valueOf(shape: Shape, r: () => number, pos: number, scale: number): number {
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  switch (shape) {
    case 'uniform': return scale * r();
    case 'bimodal': return r() < 0.7 ? scale * (1 + 0.05 * normal()) : scale * (20 + normal());
    case 'lognormal': return Math.exp(Math.log(scale) + 1.5 * normal());
    case 'pareto': return scale / Math.pow(1 - r(), 1 / 1.2);
    case 'constant': return scale;
    case 'zeros-negatives': return r() < 0.3 ? 0 : scale * (r() * 2 - 1.2);
    case 'trend': return scale * (1 + 10 * pos) + 0.01 * scale * normal();
  }
}

let caseNo = 0;
let sketched = 0;
const worst = { interval: 0, sample: 0 };

test('the window function equals the raw answer: count, min and max exactly, avg within 1e-9, p50/p95/p99 within alpha', async () => {
  const now = Date.now();
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        shape: fc.constantFrom(...SHAPES),
        seed: fc.integer(),
        n: fc.integer({ min: 1, max: 1500 }),
        spanMinutes: fc.integer({ min: 1, max: 200 }),
        scale: fc.constantFrom(0.001, 1, 37.5, 1e6),
        windows: fc.array(fc.integer({ min: 1, max: 240 }), { minLength: 1, maxLength: 3 }),
      }),
      async ({ shape, seed, n, spanMinutes, scale, windows }) => {
        const app = `prop-${++caseNo}`;
        const r = rng(seed);
        const samples: Sample[] = [];
        for (let i = 0; i < n; i++) {
          const pos = i / n;
          const value = Math.fround(valueOf(shape, r, pos, scale));
          samples.push({ app, type: 'cpu_percent', ms: Math.floor(now - 5_000 - (1 - pos) * spanMinutes * 60_000), value });
        }
        await writeLikeWriter(db.pool, samples);
        await runJob(db.pool, config(), 'rollups');
        for (const minutes of windows) {
          const e = await assertWindowMatches(db.pool, app, minutes, shape);
          worst.interval = Math.max(worst.interval, e.interval);
          worst.sample = Math.max(worst.sample, e.sample);
          sketched += e.sketched;
        }
      },
    ),
    { numRuns: 45, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
  );
  console.log(`# window p50/p95/p99 over ${caseNo} cases: worst relative error ${worst.interval.toExponential(3)} against the interval percentile_cont interpolates in, ${worst.sample.toExponential(3)} against the nearer sample over ${sketched} sketched answers (alpha ${ALPHA})`);
  assert.ok(sketched > 50, `most answers came from merged sketches (${sketched})`);
});
