// The report: a markdown table on stdout (targets last, YES/NO) and the same figures as JSON.
import { spread, type Target } from './targets.ts';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  runs: number[];
  note?: string;
}

export type Ratio = Target;

export interface Report {
  mode: 'quick' | 'full' | 'smoke';
  startedAt: string;
  machine: { cpus: number; memoryGb: number; node: string; loadAverage?: number[] };
  workload: Record<string, unknown>;
  figures: Figure[];
  sweep: { batchMaxMessages: number; rowsPerSec: number; peakRssMb: number; partitionsConcurrency?: number }[];
  ratios: Ratio[];
  peer: { ran: boolean; versions: Record<string, string>; reason?: string };
  notes: string[];
}

const pct = (n: number) => (Number.isNaN(n) ? 'n/a' : `${(n * 100).toFixed(1)} %`);
const fmt = (n: number) => (Number.isNaN(n) ? 'n/a' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

export function markdown(r: Report): string {
  const lines = [
    `### orchestry-ingest benchmark (${r.mode}, ${r.startedAt}; ${r.machine.cpus} cores, Node ${r.machine.node}${r.machine.loadAverage ? `, load average at the end ${r.machine.loadAverage.join(' ')}` : ''})`,
    '',
    `Workload: ${Object.entries(r.workload).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    '',
    '| figure | median | unit | runs | spread | note |',
    '|---|---:|---|---|---:|---|',
    ...r.figures.map((f) => `| ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.runs.map(fmt).join(' / ')} | ${pct(spread(f.runs))} | ${f.note ?? ''} |`),
    '',
    '| BATCH_MAX_MESSAGES | end-to-end rows/s | peak RSS MB |',
    '|---:|---:|---:|',
    ...r.sweep.map((s) => `| ${s.batchMaxMessages} | ${fmt(s.rowsPerSec)} | ${fmt(s.peakRssMb)} |`),
    '',
    `Peer: ${r.peer.ran ? 'ran' : `did not run (${r.peer.reason})`}; ${Object.entries(r.peer.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...r.notes.map((n) => `- ${n}`),
    '',
    '| target | value | bar | met |',
    '|---|---:|---|---|',
    ...r.ratios.map((x) => `| ${x.name} | ${fmt(x.value)} | ${x.target} | ${x.met === undefined ? '—' : x.met ? 'YES' : 'NO'} |`),
  ];
  return lines.join('\n') + '\n';
}
