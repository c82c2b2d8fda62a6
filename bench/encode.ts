// `node --import tsx bench/encode.ts [rounds]`: CPU cost of building the metrics COPY rows of the
// bench workload in the worker's encoders (text and binary), rows per second of one core.
import { buildWorkload } from './load.ts';
import { decodedSamples } from './paths/rows.ts';
import { ChunkBuilder, addMetricRows, addMetricRowsBinary } from '../src/ingest/rows.ts';
import { BinaryChunkBuilder } from '../src/ingest/copy.ts';
import { median } from './stats.ts';

const w = buildWorkload({ apps: 50, containersPerApp: 20, intervals: 40, intervalMs: 5000 }, 6);
const msgs = decodedSamples(w).map((d) => d.msg);
const BATCH = 1000;

function timeIt(encode: () => number): number {
  const t0 = performance.now();
  const rows = encode();
  return rows / ((performance.now() - t0) / 1000);
}

const encoders: Record<string, () => number> = {
  // Text rows as the worker streams them: pg-copy-streams turns each string chunk into UTF-8 bytes.
  text: () => {
    let rows = 0;
    for (let i = 0; i < msgs.length; i += BATCH) {
      const b = new ChunkBuilder();
      for (let j = i; j < Math.min(i + BATCH, msgs.length); j++) addMetricRows(b, msgs[j]!);
      for (const c of b.done()) Buffer.from(c, 'utf8');
      rows += b.rows;
    }
    return rows;
  },
  binary: () => {
    let rows = 0;
    for (let i = 0; i < msgs.length; i += BATCH) {
      const b = new BinaryChunkBuilder();
      for (let j = i; j < Math.min(i + BATCH, msgs.length); j++) addMetricRowsBinary(b, msgs[j]!);
      b.done();
      rows += b.rows;
    }
    return rows;
  },
};

const rounds = Number(process.argv[2] ?? 7);
for (const [name, f] of Object.entries(encoders)) {
  f(); // warm-up
  const rates = Array.from({ length: rounds }, () => timeIt(f));
  process.stdout.write(`${name}: ${Math.round(median(rates)).toLocaleString('en-US')} rows/s (median of ${rounds}; ${msgs.length * 8} rows)\n`);
}
