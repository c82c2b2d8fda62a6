// Sustained load: the worker into a day partition that already holds many rows (20M in full runs),
// against the same worker into an empty one. The prefill is one INSERT ... SELECT over
// generate_series on the server (no row goes through Node), shaped like the workload: the same
// apps, containers, labels and metric types, timestamps earlier the same day, in time order.
import { benchDatabase, checkpoint, countRows, type BenchDatabase } from '../db.ts';
import { ROWS_PER_SAMPLE, type Workload } from '../load.ts';
import { METRIC_TYPES, METRIC_UNITS } from '../../src/ingest/contract.ts';
import { ensurePartitions } from './rows.ts';

const DAY_MS = 86_400_000;

export interface Prefilled {
  db: BenchDatabase;
  rows: number;
  seconds: number;
  day: string;
}

/** The day (UTC) holding most of the workload's samples, and the span before its first sample there. */
export function prefillWindow(w: Workload): { day: string; fromMs: number; toMs: number } {
  const perDay = new Map<number, { n: number; first: number }>();
  for (const s of w.samples) {
    const d = Math.floor(s.ts / DAY_MS) * DAY_MS;
    const e = perDay.get(d) ?? { n: 0, first: s.ts };
    perDay.set(d, { n: e.n + 1, first: Math.min(e.first, s.ts) });
  }
  const [dayMs, e] = [...perDay].sort((a, b) => b[1].n - a[1].n)[0]!;
  // Earlier the same day when there is room; else the whole day (overlapping times: still one partition).
  const toMs = e.first - dayMs >= 60_000 ? e.first - 1 : dayMs + DAY_MS - 1;
  return { day: new Date(dayMs).toISOString().slice(0, 10), fromMs: dayMs, toMs };
}

/** A fresh database whose workload day partition holds about `rows` metrics rows. */
export async function prefilledDatabase(w: Workload, rows: number): Promise<Prefilled> {
  const db = await benchDatabase();
  await ensurePartitions(db.pool, w);
  const win = prefillWindow(w);
  const containers = [...new Map(w.samples.map((s) => [s.container, s])).values()];
  const instants = Math.max(1, Math.ceil(rows / (containers.length * ROWS_PER_SAMPLE)));
  const stepUs = Math.max(1, Math.floor(((win.toMs - win.fromMs) * 1000) / instants));
  const t0 = performance.now();
  await db.pool.query(
    `INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
     SELECT c.app, t.type, to_timestamp($3::double precision / 1000) + make_interval(secs => g * $4::double precision / 1e6),
            (g % 1000)::real / 10, c.labels, t.unit, 'instance'
       FROM generate_series(0, $5::int - 1) AS g
      CROSS JOIN unnest($1::text[], $2::jsonb[]) AS c(app, labels)
      CROSS JOIN unnest($6::text[], $7::text[]) AS t(type, unit)`,
    [
      containers.map((c) => c.app),
      containers.map((c) => JSON.stringify({ ...(c.json.labels as object), container_id: c.container })),
      win.fromMs, stepUs, instants,
      METRIC_TYPES.slice(0, ROWS_PER_SAMPLE), METRIC_TYPES.slice(0, ROWS_PER_SAMPLE).map((t) => METRIC_UNITS[t]),
    ],
  );
  await db.pool.query('ANALYZE metrics');
  const seconds = (performance.now() - t0) / 1000;
  return { db, rows: await countRows(db.pool, 'metrics'), seconds, day: win.day };
}

/** Makes the prefilled database ready for another worker run over the same topic: no stored offsets, no instance stats. */
export async function resetForRun(db: BenchDatabase, topic: string): Promise<void> {
  await db.pool.query('DELETE FROM ingest_offsets WHERE topic = $1', [topic]);
  await db.pool.query('UPDATE instances SET stats_at = NULL');
  await checkpoint(db);
}
