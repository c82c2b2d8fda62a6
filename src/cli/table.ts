// Aligned plain-text tables for the operator commands (status, offsets).

/** Writes `head` and `rows` as space-aligned columns; the last column is not padded. */
export function printTable(head: string[], rows: string[][], out: NodeJS.WritableStream = process.stdout): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [head, ...rows]) out.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')}\n`);
}
