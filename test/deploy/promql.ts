// Helpers for the deploy tests: metric names in PromQL, and the names the worker exports.
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics.ts';

const METRIC = /(?<![\w:])((?:orchestry_ingest|process|nodejs)_[a-zA-Z0-9_]+)(?![\w:])/g;

/** Names of the worker's metrics that a PromQL expression selects (recording-rule names, with ':', excluded). */
export function metricNames(expr: string): string[] {
  // Quoted strings (label values, legends) are not selectors.
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...code.matchAll(METRIC)].map((m) => m[1] as string))];
}

/** The metrics createMetrics() registers, by name and type. */
export async function exportedMetrics(): Promise<Map<string, string>> {
  const registry = new Registry();
  createMetrics(registry);
  const out = new Map<string, string>();
  for (const m of await registry.getMetricsAsJSON()) out.set(m.name, String(m.type));
  return out;
}

/** The exported metric a queried name refers to: itself, or the histogram/summary behind a _bucket/_sum/_count series. */
export function resolveName(name: string, exported: Map<string, string>): string | undefined {
  if (exported.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (!m) return undefined;
  const base = m[1] as string;
  const type = exported.get(base);
  if (type === 'histogram') return base;
  if (type === 'summary' && m[2] !== 'bucket') return base;
  return undefined;
}

/** The `expr:` values of a Prometheus rule file (single-line and `|` / `>` block scalars). */
export function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:-\s+)?expr:\s*(.*)$/.exec(lines[i] as string);
    if (!m) continue;
    const indent = (m[1] as string).length;
    const rest = (m[2] as string).trim();
    if (rest !== '|' && rest !== '>' && rest !== '|-' && rest !== '>-') {
      out.push(rest.replace(/^(['"])(.*)\1$/, '$2'));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && ((lines[i + 1] as string).trim() === '' || /^\s*/.exec(lines[i + 1] as string)![0].length > indent)) {
      block.push((lines[++i] as string).trim());
    }
    out.push(block.join('\n').trim());
  }
  return out;
}
