// Smoke test of the benchmark harness: a tiny workload through every measured path (the peer too
// when its Maven classpath is already resolved), asserting each path's rows landed (the paths
// check their own row counts) and that the report carries every figure and target; and the target
// logic (YES/NO, spreads, the higher COPY limit) on fixed numbers, without timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMOKE, runBench } from '../../bench/bench.ts';
import { connectLibsPresent } from '../../bench/paths/connect.ts';
import { markdown } from '../../bench/report.ts';
import { BARS, evaluateTargets, spread, type TargetInputs } from '../../bench/targets.ts';

const TARGETS = [
  /^worker \/ higher COPY limit \((binary|text)\)$/,
  /^worker \/ multi-row INSERT$/,
  /^p99 latency at half load, scheduler on \(ms\)$/,
  /^worker peak RSS \(MB\)$/,
  /^sustained: into \d+M-row day \/ into empty$/,
  /^worker spread across rounds$/,
];

test('the benchmark harness measures every path on a tiny workload and reports every figure and target', async () => {
  const peer = connectLibsPresent();
  const report = await runBench(SMOKE, { peer, profile: false, write: false, log: () => {} });
  const names = report.figures.map((f) => f.name);
  const expected = [
    'worker end-to-end', 'ingest latency p50', 'ingest latency p99', 'ingest latency, scheduler off, p99', 'ingest latency at 80 % p99', 'worker peak RSS',
    'COPY limit', 'binary COPY limit', 'multi-row INSERT', 'one INSERT per message', 'consume-only', 'worker into a prefilled day',
  ];
  if (peer) expected.push('peer: Kafka Connect + Debezium JDBC', 'peer JVM peak RSS');
  for (const name of expected) {
    const f = report.figures.find((x) => x.name === name);
    assert.ok(f, `the report has ${name} (it has ${names.join(', ')})`);
    assert.ok(Number.isFinite(f.value) && f.value > 0, `${name} is a positive number, got ${f.value}`);
  }
  assert.equal(report.peer.ran, peer, report.peer.reason);
  for (const re of TARGETS) assert.ok(report.ratios.some((r) => re.test(r.name) && typeof r.met === 'boolean'), `target ${re}`);
  for (const r of ['p99 latency at half load, scheduler off (ms)', 'p99 latency at 80% load (ms)', 'worker / one INSERT per message', 'worker / consume-only', 'worker / text COPY limit', 'binary / text COPY limit']) assert.ok(report.ratios.some((x) => x.name === r), `ratio ${r}`);
  if (peer) assert.ok(report.ratios.some((r) => r.name === 'worker / peer'));
  assert.equal(report.sweep.length, SMOKE.sweep.length);
  const md = markdown(report);
  assert.match(md, /\| target \| value \| bar \| met \|/);
  assert.match(md, /\| figure \| median \| unit \| runs \| spread \| note \|/);
  assert.ok(md.lastIndexOf('worker / multi-row INSERT') > md.indexOf('COPY limit |'), 'targets are printed last');
});

const base: TargetInputs = {
  worker: [100, 104, 102], copy: [120, 125, 130], copyBinary: [130, 128, 140], multi: [70, 80, 75], rss: [200, 210, 190],
  p99HalfMs: 250, p99HalfNoSchedulerMs: 200, p99EightyMs: 600, sustained: [90, 85, 95], prefillRows: 20_000_000,
};
const byName = (x: TargetInputs) => new Map(evaluateTargets(x).map((t) => [t.name, t]));

test('spread is max/min - 1 of the rounds', () => {
  assert.ok(Math.abs(spread([100, 110, 105]) - 0.1) < 1e-12);
  assert.equal(spread([7]), 0);
  assert.ok(Number.isNaN(spread([])));
  assert.ok(Number.isNaN(spread([0, 5])));
});

test('the worker is judged against the higher of the text and binary COPY limits, medians of the rounds', () => {
  const t = byName(base);
  const c = t.get('worker / higher COPY limit (binary)')!;
  assert.equal(c.value, 102 / 130);
  assert.equal(c.met, 102 / 130 >= BARS.workerOverCopy);
  const textHigher = byName({ ...base, copyBinary: [100, 101, 99] }).get('worker / higher COPY limit (text)')!;
  assert.equal(textHigher.value, 102 / 125);
  assert.equal(textHigher.met, true);
  const noBinary = byName({ ...base, copyBinary: undefined });
  assert.ok(noBinary.has('worker / COPY limit'));
  assert.ok(!noBinary.has('binary / text COPY limit'));
});

test('each target says YES or NO at its bar, and informational rows say neither', () => {
  const t = byName(base);
  assert.deepEqual([t.get('worker / multi-row INSERT')!.value, t.get('worker / multi-row INSERT')!.met], [102 / 75, true]);
  assert.equal(t.get('p99 latency at half load, scheduler on (ms)')!.met, true);
  assert.equal(t.get('p99 latency at half load, scheduler off (ms)')!.met, undefined);
  assert.equal(t.get('p99 latency at 80% load (ms)')!.met, undefined);
  assert.equal(t.get('worker peak RSS (MB)')!.value, 200);
  assert.equal(t.get('worker peak RSS (MB)')!.met, true);
  assert.deepEqual([t.get('sustained: into 20M-row day / into empty')!.value, t.get('sustained: into 20M-row day / into empty')!.met], [90 / 102, true]);
  assert.ok(Math.abs(t.get('worker spread across rounds')!.value - 0.04) < 1e-12);
  assert.equal(t.get('worker spread across rounds')!.met, true);

  const bad = byName({ ...base, worker: [60, 80, 70], p99HalfMs: 301, rss: [257, 257, 300], sustained: [50, 50, 50] });
  assert.equal(bad.get('worker / higher COPY limit (binary)')!.met, false);
  assert.equal(bad.get('worker / multi-row INSERT')!.met, false); // 70 / 75
  assert.equal(bad.get('p99 latency at half load, scheduler on (ms)')!.met, false);
  assert.equal(bad.get('worker peak RSS (MB)')!.met, false);
  assert.equal(bad.get('sustained: into 20M-row day / into empty')!.met, false);
  assert.equal(bad.get('worker spread across rounds')!.met, false); // 80/60 - 1 = 0.33
  // Exactly at the bars is a pass.
  const edge = byName({ ...base, worker: [75, 75, 75], copy: [100], copyBinary: [100], multi: [75 / 1.3], p99HalfMs: 300, rss: [256], sustained: [60] });
  for (const name of ['worker / higher COPY limit (text)', 'p99 latency at half load, scheduler on (ms)', 'worker peak RSS (MB)', 'sustained: into 20M-row day / into empty']) assert.equal(edge.get(name)!.met, true, name);
  assert.ok(Math.abs(edge.get('worker / multi-row INSERT')!.value - 1.3) < 1e-12);
});

test('the CPU ceiling rows: the worker against its ceiling, and the ceiling against the higher COPY limit', () => {
  const t = byName({ ...base, cpuCeiling: [150, 160, 155] });
  assert.ok(Math.abs(t.get('worker / its CPU ceiling')!.value - 102 / 155) < 1e-12);
  assert.ok(Math.abs(t.get('CPU ceiling / higher COPY limit')!.value - 155 / 130) < 1e-12);
  assert.equal(t.get('worker / its CPU ceiling')!.met, undefined);
  // Not sampled (a server other than the local stack's): no ceiling rows.
  assert.equal(byName({ ...base, cpuCeiling: [Number.NaN] }).has('worker / its CPU ceiling'), false);
  assert.equal(byName(base).has('CPU ceiling / higher COPY limit'), false);
});
