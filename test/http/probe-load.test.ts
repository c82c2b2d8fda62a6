// 400 concurrent /readyz clients while the worker ingests: readiness stays off the ingest pool (one
// probe connection at most, no ingest pool waiters), and the batch latency is reported with and without them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { RunningWorker } from '../../src/worker.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { produce, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { startTestWorker, waitUntil, workerEnv } from '../helpers/worker.ts';

const CLIENTS = 400;
const MESSAGES = 30_000;

let db: TestDatabase;
let topics: TestTopics;
let worker: RunningWorker;

before(async () => {
  db = await freshDatabase();
  topics = await testTopics(3);
  worker = await startTestWorker(workerEnv(db.url, topics), { http: true });
  await produce(topics.lifecycle, [{ key: 'probe-app', value: registered('probe-app', Date.now() - 600_000) }]);
});

after(async () => {
  await worker?.stop();
  await db?.drop();
});

type Buckets = Map<number, number>;

/** The cumulative bucket counts of the `total` batch duration on the stats topic. */
async function batchBuckets(): Promise<Buckets> {
  const { values } = await worker.metrics.batchDuration.get();
  const out: Buckets = new Map();
  for (const v of values) {
    const labels = v.labels as Record<string, string | number | undefined>;
    if (v.metricName?.endsWith('_bucket') && labels.topic === topics.stats && labels.phase === 'total') out.set(labels.le === '+Inf' ? Infinity : Number(labels.le), v.value);
  }
  return out;
}

/** A quantile of the batches between two snapshots, interpolated linearly inside its bucket (seconds). */
function quantile(before: Buckets, after: Buckets, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le: number) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const total = count(Infinity);
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const n = count(le);
    if (n >= q * total) return le === Infinity ? lower : lower + ((le - lower) * (q * total - below)) / Math.max(1, n - below);
    lower = le;
    below = n;
  }
  return lower;
}

let sent = 0;
/** Produces `count` stats messages and waits until all of them are stored. */
async function ingestRound(count: number): Promise<void> {
  const now = Date.now();
  const messages = Array.from({ length: count }, (_, i) => ({ key: `c${i % 60}`, value: stats('probe-app', `c${i % 60}`, now - 300_000 + i, { rps: i }) }));
  await produce(topics.stats, messages);
  sent += count;
  await waitUntil('the round is stored', async () => {
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM metrics WHERE app_name = 'probe-app' AND metric_type = 'rps'`);
    return rows[0]!.n === sent;
  }, 180_000, 200);
}

/**
 * CLIENTS concurrent /readyz loops in a child process (probes come from outside the worker's event
 * loop); they stop when its stdin closes and it prints the count of each status and body.
 */
function startProbeClients(url: string): { stop(): Promise<Record<string, number>> } {
  const script = `
    const counts = {}; let running = true;
    process.stdin.on('end', () => { running = false; }); process.stdin.resume();
    const loop = async () => { while (running) { try { const r = await fetch(${JSON.stringify(url)}); const k = r.status + ' ' + (await r.text()); counts[k] = (counts[k] ?? 0) + 1; } catch (e) { counts['error ' + e.message] = (counts['error ' + e.message] ?? 0) + 1; } } };
    await Promise.all(Array.from({ length: ${CLIENTS} }, loop));
    process.stdout.write(JSON.stringify(counts));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.stdin.end();
      await exited;
      return JSON.parse(out) as Record<string, number>;
    },
  };
}

test('400 concurrent /readyz clients during ingestion use one probe connection and never make the ingest pool wait', { timeout: 600_000 }, async (t) => {
  await ingestRound(3_000); // warm-up: connections, partitions, JIT
  const quiet0 = await batchBuckets();
  await ingestRound(MESSAGES);
  const quiet1 = await batchBuckets();

  let maxWaiting = 0;
  let maxProbeConnections = 0;
  let sampling = true;
  const sampler = setInterval(() => {
    maxWaiting = Math.max(maxWaiting, worker.pool.waitingCount);
  }, 20);
  const probeConnections = (async () => {
    while (sampling) {
      const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'orchestry-ingest-probe'`);
      maxProbeConnections = Math.max(maxProbeConnections, rows[0]!.n);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const clients = startProbeClients(`http://127.0.0.1:${worker.httpPort}/readyz`);
  await new Promise((r) => setTimeout(r, 1000));
  const loaded0 = await batchBuckets();
  await ingestRound(MESSAGES);
  const loaded1 = await batchBuckets();
  const statuses = await clients.stop();
  sampling = false;
  clearInterval(sampler);
  await probeConnections;

  const ms = (s: number) => Math.round(s * 1000);
  const report = {
    quiet: { p50: ms(quantile(quiet0, quiet1, 0.5)), p99: ms(quantile(quiet0, quiet1, 0.99)) },
    probed: { p50: ms(quantile(loaded0, loaded1, 0.5)), p99: ms(quantile(loaded0, loaded1, 0.99)) },
    responses: Object.entries(statuses).map(([k, n]) => `${k.slice(0, 3)}×${n}`).join(' '),
    maxIngestPoolWaiting: maxWaiting,
    maxProbeConnections,
  };
  t.diagnostic(`batch duration (ms, phase total): ${JSON.stringify(report)}`);

  // Every answer is one of the short public bodies; on a starved machine a check may miss its 2 s
  // bound now and then (503), but the worker stays ready nearly always (before: every answer 503).
  const SHORT = /^(200 \{"status":"ready","failed":\[\]\}|503 \{"status":"not ready","failed":\["(consumer|database|migrations)"(,"(database|migrations)")*\]\})$/;
  for (const body of Object.keys(statuses)) assert.match(body, SHORT);
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  const ready = statuses['200 {"status":"ready","failed":[]}'] ?? 0;
  assert.ok(total >= CLIENTS, 'every client was answered');
  assert.ok(ready >= 0.95 * total, `${ready} of ${total} answers were 200`);
  assert.equal(maxWaiting, 0, 'no query ever waited for an ingest pool connection');
  assert.equal(maxProbeConnections, 1, 'readiness used one connection of its own');
  // Before the probe pool and the cache: p99 29.3 s against 0.97 s without the clients (30x).
  assert.ok(report.probed.p99 < 10 * Math.max(report.quiet.p99, 100), `batch p99 under probe load: ${report.probed.p99} ms, quiet: ${report.quiet.p99} ms`);
});
