// The Grafana dashboard: it parses, covers what operators need, and queries only metrics the worker exports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportedMetrics, metricNames, resolveName } from './promql.ts';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'grafana', 'orchestry-ingest.json');

interface Panel {
  type: string;
  title: string;
  id: number;
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

function dashboard() {
  return JSON.parse(readFileSync(file, 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] } };
}

test('the dashboard parses and every panel has a unique id and queries with expressions', () => {
  const d = dashboard();
  assert.equal(d.uid, 'orchestry-ingest');
  const panels = allPanels(d.panels);
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
  for (const p of panels.filter((x) => x.type !== 'row')) {
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets ?? []) assert.ok(t.expr.trim().length > 0, `panel "${p.title}" query ${t.refId} has an expression`);
  }
});

test('every metric name the dashboard queries is exported by createMetrics()', async () => {
  const exported = await exportedMetrics();
  const d = dashboard();
  const exprs = [
    ...allPanels(d.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
    ...d.templating.list.map((v) => ({ where: `variable $${v.name}`, expr: JSON.stringify(v.query ?? '').replace(/\\"/g, '') })),
  ];
  const queried = new Set<string>();
  for (const { where, expr } of exprs) {
    for (const name of metricNames(expr)) {
      const resolved = resolveName(name, exported);
      assert.ok(resolved, `${where} queries ${name}, which the worker does not export`);
      queried.add(resolved);
    }
  }
  assert.ok(queried.size >= 15, `the dashboard queries ${queried.size} metrics`);
});

test('the dashboard shows throughput, lag, DLQ rate, batch latency percentiles and job status', () => {
  const exprs = allPanels(dashboard().panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const has = (re: RegExp, what: string) => assert.ok(exprs.some((e) => re.test(e)), `a query shows ${what}`);
  has(/rate\(orchestry_ingest_messages_total\b/, 'messages consumed per second');
  has(/rate\(orchestry_ingest_rows_written_total\b/, 'rows written per second');
  has(/orchestry_ingest_consumer_lag_messages\b/, 'consumer lag');
  has(/rate\(orchestry_ingest_dlq_messages_total\b/, 'the DLQ rate');
  for (const q of ['0.5', '0.95', '0.99']) {
    has(new RegExp(`histogram_quantile\\(${q.replace('.', '\\.')}, sum by \\(le, phase\\) \\(rate\\(orchestry_ingest_batch_duration_seconds_bucket`), `batch latency p${Number(q) * 100}`);
  }
  has(/orchestry_ingest_job_runs_total\b.*|sum by \(job_name, status\)/, 'job runs by status');
  has(/orchestry_ingest_job_last_success_timestamp_seconds\b/, 'time since each job last succeeded');
});
