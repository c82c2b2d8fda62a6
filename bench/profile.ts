// Summarises V8 .cpuprofile files (from --cpu-prof): self time per function, as a markdown table.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

export function profileSummary(dir: string, top: number): string {
  const self = new Map<string, number>();
  let total = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const n = byId.get(id)!;
      const url = n.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
      const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
      const dt = p.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
  }
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  return ['| self % | self ms | function |', '|---:|---:|---|', ...rows.map(([k, us]) => `| ${((us / total) * 100).toFixed(1)} | ${Math.round(us / 1000)} | ${k.replace(/\|/g, '\\|')} |`)].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.stdout.write(profileSummary(process.argv[2] ?? 'bench/results/profile', Number(process.argv[3] ?? 30)) + '\n');
}
