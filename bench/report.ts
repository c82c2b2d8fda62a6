// The report: a markdown table on stdout (ratios last) and the same figures as JSON.
export interface Figure {
  name: string;
  value: number;
  unit: string;
  runs: number[];
  note?: string;
}

export interface Ratio {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export interface Report {
  mode: 'quick' | 'full' | 'smoke';
  startedAt: string;
  machine: { cpus: number; memoryGb: number; node: string };
  workload: Record<string, unknown>;
  figures: Figure[];
  sweep: { batchMaxMessages: number; rowsPerSec: number; peakRssMb: number }[];
  ratios: Ratio[];
  peer: { ran: boolean; versions: Record<string, string>; reason?: string };
  notes: string[];
}

const fmt = (n: number) => (Number.isNaN(n) ? 'n/a' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

export function markdown(r: Report): string {
  const lines = [
    `### orchestry-ingest benchmark (${r.mode}, ${r.startedAt}; ${r.machine.cpus} cores, Node ${r.machine.node})`,
    '',
    `Workload: ${Object.entries(r.workload).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    '',
    '| figure | median | unit | runs | note |',
    '|---|---:|---|---|---|',
    ...r.figures.map((f) => `| ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.runs.map(fmt).join(' / ')} | ${f.note ?? ''} |`),
    '',
    '| BATCH_MAX_MESSAGES | end-to-end rows/s | peak RSS MB |',
    '|---:|---:|---:|',
    ...r.sweep.map((s) => `| ${s.batchMaxMessages} | ${fmt(s.rowsPerSec)} | ${fmt(s.peakRssMb)} |`),
    '',
    `Peer: ${r.peer.ran ? 'ran' : `did not run (${r.peer.reason})`}; ${Object.entries(r.peer.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...r.notes.map((n) => `- ${n}`),
    '',
    '| ratio | value | target | met |',
    '|---|---:|---|---|',
    ...r.ratios.map((x) => `| ${x.name} | ${fmt(x.value)} | ${x.target} | ${x.met ? 'yes' : 'NO'} |`),
  ];
  return lines.join('\n') + '\n';
}
