// A load generator for fault and reliability tests. Every message carries a unique id
// (stats: labels.msg_id; lifecycle: the `message` of a container.health change; bad messages: in
// their bytes), so the final account is exact: per id, what the source topics hold against what
// landed in `metrics` / `events` and in the DLQ.
import { randomBytes } from 'node:crypto';
import type { Pool } from '../../src/db/pool.ts';
import type { Producer } from '../../src/kafka/client.ts';
import { kafka, readAll, type TestTopics } from './kafka.ts';

export interface LoadOptions {
  topics: TestTopics;
  /** Messages per second, all kinds together. */
  ratePerSec: number;
  /** Every n-th message is a bad one (alternately invalid JSON and an out-of-range value); 0: none. */
  badEvery?: number;
  /** Every n-th good message goes to the lifecycle topic. */
  lifecycleEvery?: number;
  /** Distinct container ids (message keys), spread over the partitions. */
  containers?: number;
  app?: string;
}

/** The metric fields of every good stats message: each gives one `metrics` row. */
export const STATS_FIELDS = 2;
const ID = /\b(L[0-9a-f]{8}-\d+)\b/;

/** The unique id carried by a load message's bytes, if any. */
export function idOf(value: Buffer | null): string | undefined {
  return value ? ID.exec(value.toString('latin1'))?.[1] : undefined;
}

export interface LoadStats {
  acked: number;
  failedSends: number;
}

export class LoadGenerator {
  readonly runId = `L${randomBytes(4).toString('hex')}`;
  readonly app: string;
  private seq = 0;
  private producer: Producer | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  readonly stats: LoadStats = { acked: 0, failedSends: 0 };

  constructor(readonly opts: LoadOptions) {
    this.app = opts.app ?? `load-${this.runId.toLowerCase()}`;
  }

  private nextMessages(n: number): { stats: { key: string; value: string }[]; lifecycle: { key: string; value: string }[] } {
    const out = { stats: [] as { key: string; value: string }[], lifecycle: [] as { key: string; value: string }[] };
    const badEvery = this.opts.badEvery ?? 0;
    const lifecycleEvery = this.opts.lifecycleEvery ?? 5;
    const containers = this.opts.containers ?? 24;
    for (let i = 0; i < n; i++) {
      const seq = this.seq++;
      const id = `${this.runId}-${seq}`;
      const container = `c-${seq % containers}`;
      const ts = Date.now();
      if (badEvery > 0 && seq % badEvery === badEvery - 1) {
        const value =
          (seq / badEvery) % 2 < 1
            ? `{"v":1,"app":"${this.app}","container_id":"${container}","labels":{"msg_id":"${id}"},"ts":`
            : JSON.stringify({ v: 1, app: this.app, container_id: container, ts, cpu_percent: -1, labels: { msg_id: id } });
        out.stats.push({ key: container, value });
      } else if (seq % lifecycleEvery === 0) {
        out.lifecycle.push({
          key: container,
          value: JSON.stringify({ v: 1, type: 'container.health', app: this.app, ts, container_id: container, health_status: seq % 2 ? 'healthy' : 'unhealthy', message: id }),
        });
      } else {
        out.stats.push({
          key: container,
          value: JSON.stringify({ v: 1, app: this.app, container_id: container, ts, cpu_percent: (seq % 1000) / 10, rps: seq % 5000, labels: { msg_id: id, zone: 'z1' } }),
        });
      }
    }
    return out;
  }

  /** Sends `n` messages once; a failed send (or connect) is counted and not retried (its ids may or may not be in Kafka). */
  async send(n: number): Promise<void> {
    this.producer ??= kafka(`load-${this.runId}`).producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, retry: { retries: 3, maxRetryTime: 2000 } });
    const p = this.producer;
    const m = this.nextMessages(n);
    const batches = [
      { topic: this.opts.topics.stats, messages: m.stats },
      { topic: this.opts.topics.lifecycle, messages: m.lifecycle },
    ].filter((b) => b.messages.length > 0);
    try {
      // Inside the try: while a broker is away, connecting fails too (its retries can run out within
      // a 30 s outage), and that is a failed send, not the end of the load loop.
      await p.connect();
      await p.sendBatch({ acks: -1, topicMessages: batches, timeout: 5000 });
      this.stats.acked += n;
    } catch {
      this.stats.failedSends += n;
      // A broken producer is rebuilt on the next send.
      await p.disconnect().catch(() => {});
      this.producer = undefined;
    }
  }

  /** Produces at `ratePerSec` in the background until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tickMs = 100;
    const perTick = Math.max(1, Math.round((this.opts.ratePerSec * tickMs) / 1000));
    this.loop = (async () => {
      while (this.running) {
        const t0 = Date.now();
        await this.send(perTick);
        const wait = tickMs - (Date.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.producer?.disconnect().catch(() => {});
    this.producer = undefined;
  }

  /** Messages handed out so far (acknowledged or not). */
  get generated(): number {
    return this.seq;
  }
}

export interface Account {
  fault: string;
  /** Records with a load id in the source topics (the ground truth of what was produced). */
  produced: number;
  /** Ids stored in metrics / events (counted once each). */
  stored: number;
  /** Ids in the DLQ topic (counted once each). */
  dlq: number;
  lost: number;
  duplicated: number;
  /** DLQ records beyond the first per id (the DLQ is at-least-once; PostgreSQL is exactly-once). */
  dlqRedelivered: number;
  /** Rows of ingest_dead_letters for the source topics (exactly-once record of the DLQ). */
  deadLetterRows: number;
  lostIds: string[];
  duplicatedIds: string[];
}

/** How many ids are in PostgreSQL now (stored rows + dead-letter rows), for waiting until drained. */
export async function progress(pool: Pool, load: LoadGenerator): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(DISTINCT labels->>'msg_id') FROM metrics WHERE app_name = $1 AND aggregation_level = 'instance')
          + (SELECT count(*) FROM events WHERE app_name = $1 AND event_type = 'health')
          + (SELECT count(*) FROM ingest_dead_letters WHERE topic = $2) AS n`,
    [load.app, load.opts.topics.stats],
  );
  return Number(rows[0]!.n);
}

/** The exact account: the source topics against what PostgreSQL and the DLQ hold. */
export async function account(fault: string, pool: Pool, load: LoadGenerator): Promise<Account> {
  const { topics } = load.opts;
  const inKafka = new Map<string, number>();
  for (const t of [topics.stats, topics.lifecycle]) {
    for (const m of await readAll(t)) {
      const id = idOf(m.value);
      if (id?.startsWith(load.runId)) inKafka.set(id, (inKafka.get(id) ?? 0) + 1);
    }
  }
  const inDlq = new Map<string, number>();
  for (const m of await readAll(topics.dlq)) {
    const id = idOf(m.value);
    if (id?.startsWith(load.runId)) inDlq.set(id, (inDlq.get(id) ?? 0) + 1);
  }
  const stored = new Map<string, number>();
  const metricRows = await pool.query<{ id: string; n: number }>(
    // Instance-level rows only: the rollups job adds app-level rows (no msg_id) for the same app.
    `SELECT labels->>'msg_id' AS id, count(*)::int AS n FROM metrics WHERE app_name = $1 AND aggregation_level = 'instance' GROUP BY 1`,
    [load.app],
  );
  for (const r of metricRows.rows) stored.set(r.id, (stored.get(r.id) ?? 0) + r.n / STATS_FIELDS);
  const eventRows = await pool.query<{ id: string; n: number }>(
    `SELECT details->>'message' AS id, count(*)::int AS n FROM events WHERE app_name = $1 AND event_type = 'health' GROUP BY 1`,
    [load.app],
  );
  for (const r of eventRows.rows) stored.set(r.id, (stored.get(r.id) ?? 0) + r.n);
  const dl = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_dead_letters WHERE topic = ANY($1)', [[topics.stats, topics.lifecycle]]);

  const acc: Account = { fault, produced: 0, stored: 0, dlq: 0, lost: 0, duplicated: 0, dlqRedelivered: 0, deadLetterRows: dl.rows[0]!.n, lostIds: [], duplicatedIds: [] };
  const ids = new Set([...inKafka.keys(), ...stored.keys(), ...inDlq.keys()]);
  for (const id of ids) {
    const k = inKafka.get(id) ?? 0;
    const s = stored.get(id) ?? 0;
    const d = inDlq.has(id) ? 1 : 0;
    acc.produced += k;
    acc.stored += Math.min(s, k);
    acc.dlq += d;
    acc.dlqRedelivered += Math.max(0, (inDlq.get(id) ?? 0) - 1);
    if (s + d < k) {
      acc.lost += k - s - d;
      acc.lostIds.push(id);
    } else if (s + d > k) {
      acc.duplicated += s + d - k;
      acc.duplicatedIds.push(id);
    }
  }
  return acc;
}

/** Prints accounts as a table (also returned as text). */
export function formatTable(rows: Account[], extra: Record<string, string>[] = []): string {
  const head = ['fault', 'produced', 'stored', 'in DLQ', 'lost', 'duplicated', 'DLQ redelivered', 'notes'];
  const body = rows.map((r, i) => [r.fault, String(r.produced), String(r.stored), String(r.dlq), String(r.lost), String(r.duplicated), String(r.dlqRedelivered), Object.entries(extra[i] ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
