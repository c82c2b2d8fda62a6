// A small hand-written SVG line chart: end-to-end throughput against BATCH_MAX_MESSAGES.
export interface Point {
  x: number;
  y: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function sweepSvg(points: Point[], opts: { title: string; xLabel: string; yLabel: string; refY?: { y: number; label: string }[] }): string {
  const W = 640, H = 360, L = 70, R = 20, T = 40, B = 50;
  const xs = points.map((p) => Math.log10(p.x));
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  const yMax = Math.max(...points.map((p) => p.y), ...(opts.refY ?? []).map((r) => r.y)) * 1.1 || 1;
  const px = (x: number) => L + ((Math.log10(x) - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const py = (y: number) => H - B - (y / yMax) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(opts.yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax / 4) * i;
    out.push(`<line x1="${L}" y1="${py(y)}" x2="${W - R}" y2="${py(y)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${py(y) + 4}" text-anchor="end">${Math.round(y / 1000)}k</text>`);
  }
  for (const p of points) out.push(`<text x="${px(p.x)}" y="${H - B + 16}" text-anchor="middle">${p.x}</text>`);
  for (const r of opts.refY ?? []) {
    out.push(`<line x1="${L}" y1="${py(r.y)}" x2="${W - R}" y2="${py(r.y)}" stroke="#c33" stroke-dasharray="5,4"/>`, `<text x="${W - R - 4}" y="${py(r.y) - 5}" text-anchor="end" fill="#c33">${esc(r.label)}</text>`);
  }
  out.push(`<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
  for (const p of points) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="4" fill="#2563eb"/>`, `<text x="${px(p.x).toFixed(1)}" y="${(py(p.y) - 9).toFixed(1)}" text-anchor="middle">${Math.round(p.y / 1000)}k</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
