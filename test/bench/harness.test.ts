// Smoke test of the benchmark harness: a tiny workload through every measured path (the peer too
// when its Maven classpath is already resolved), asserting each path's rows landed (the paths
// check their own row counts) and that the report carries every figure and ratio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMOKE, runBench } from '../../bench/bench.ts';
import { connectLibsPresent } from '../../bench/paths/connect.ts';
import { markdown } from '../../bench/report.ts';

test('the benchmark harness measures every path on a tiny workload and reports every figure', async () => {
  const peer = connectLibsPresent();
  const report = await runBench(SMOKE, { peer, profile: false, write: false, log: () => {} });
  const names = report.figures.map((f) => f.name);
  const expected = ['worker end-to-end', 'ingest latency p50', 'ingest latency p99', 'worker peak RSS', 'COPY limit', 'multi-row INSERT', 'one INSERT per message', 'consume-only'];
  if (peer) expected.push('peer: Kafka Connect + Debezium JDBC', 'peer JVM peak RSS');
  for (const name of expected) {
    const f = report.figures.find((x) => x.name === name);
    assert.ok(f, `the report has ${name} (it has ${names.join(', ')})`);
    assert.ok(Number.isFinite(f.value) && f.value > 0, `${name} is a positive number, got ${f.value}`);
  }
  assert.equal(report.peer.ran, peer, report.peer.reason);
  const ratios = report.ratios.map((r) => r.name);
  for (const r of ['worker / COPY limit', 'worker / one INSERT per message', 'worker / multi-row INSERT', 'p99 latency at half load (s)', 'worker peak RSS (MB)']) assert.ok(ratios.includes(r), `ratio ${r}`);
  if (peer) assert.ok(ratios.includes('worker / peer'));
  assert.equal(report.sweep.length, SMOKE.sweep.length);
  const md = markdown(report);
  assert.match(md, /\| ratio \| value \| target \| met \|/);
  assert.ok(md.lastIndexOf('worker / COPY limit') > md.indexOf('COPY limit |'), 'ratios are printed last');
});
