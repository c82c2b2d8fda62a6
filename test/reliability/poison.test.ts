// The poison corpus (issue 7): many kinds of bad messages mixed into valid traffic, consumed by a
// real worker process. Every bad one lands in the DLQ once, with the right code and its original
// bytes; every good one is stored; the worker process never restarts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { headerText, produce, readAll, testTopics, type Consumed, type Out, type TestTopics } from '../helpers/kafka.ts';
import { drained, startWorker, stopAll, whenReady, type Worker } from '../faults/harness.ts';
import { knownGaps, poisonCorpus, type Poison } from './corpus.ts';

const FLOAT4_MAX = 3.4028234663852886e38;
let db: TestDatabase;
const workers: Worker[] = [];

before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await stopAll(workers, 5000);
  await db?.drop();
});

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const k = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[k]] = [xs[k]!, xs[i]!];
  }
  return xs;
}

/** Produces the corpus mixed into good traffic; returns the good ids. */
async function mixAndProduce(topics: TestTopics, bad: Poison[], app: string, now: number): Promise<{ goodStats: string[]; goodEvents: string[] }> {
  const out: Record<'stats' | 'lifecycle', Out[]> = { stats: [], lifecycle: [] };
  bad.forEach((p, i) => out[p.topic].push({ key: `poison-${i}`, value: p.value, headers: { 'x-poison': p.kind } }));
  const goodStats: string[] = [];
  const goodEvents: string[] = [];
  for (let n = 0; n < 400; n++) {
    const id = `good-${n}`;
    goodStats.push(id);
    out.stats.push({ key: `c-${n % 7}`, value: { v: 1, app, container_id: `c-${n % 7}`, ts: now - n, cpu_percent: n % 100, labels: { msg_id: id } } });
  }
  for (let n = 0; n < 80; n++) {
    const id = `good-life-${n}`;
    goodEvents.push(id);
    out.lifecycle.push({ key: `c-${n % 7}`, value: { v: 1, type: 'container.health', app, ts: now - n, container_id: `c-${n % 7}`, health_status: 'healthy', message: id } });
  }
  // Valid messages that look dangerous: each must be stored as it is.
    const special: [string, Record<string, unknown>][] = [
    ['good-sql', { app, container_id: `x'); DROP TABLE metrics; --`, labels: { q: `Robert'); DROP TABLE students;--`, msg_id: 'good-sql' } }],
    ['good-sql-2', { app, container_id: '1 OR 1=1', labels: { q: `" OR ""="`, c: '$1 $$ \\copy', msg_id: 'good-sql-2' } }],
    ['good-max-real', { app, container_id: 'c-max', cpu_percent: FLOAT4_MAX, labels: { msg_id: 'good-max-real' } }],
    ['good-zero', { app, container_id: 'c-zero', cpu_percent: 0, labels: { msg_id: 'good-zero' } }],
    ['good-64-labels', { app, container_id: 'c-64', labels: { ...Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, `v${i}`])), msg_id: 'good-64-labels' } }],
    ['good-rfc3339-offset', { app, container_id: 'c-tz', ts: new Date(now).toISOString().replace('Z', '+00:00').replace(/\.\d+/, '.123456789'), labels: { msg_id: 'good-rfc3339-offset' } }],
  ];
  for (const [id, fields] of special) {
    goodStats.push(id);
    out.stats.push({ key: id, value: { v: 1, ts: now - 5, cpu_percent: 1, ...fields } });
  }
  // 5,000 levels of an unknown field: ignored by the contract, so the message is good.
  goodStats.push('good-deep-unknown');
  const deep = `${'{"n":'.repeat(5000)}1${'}'.repeat(5000)}`;
  out.stats.push({ key: 'c-deep', value: `{"v":1,"app":"${app}","container_id":"c-deep","ts":${now},"rps":1,"unknown":${deep},"labels":{"msg_id":"good-deep-unknown"}}` });
  await produce(topics.stats, shuffle(out.stats));
  await produce(topics.lifecycle, shuffle(out.lifecycle));
  return { goodStats, goodEvents };
}

/** The DLQ value is the original, or (past DLQ_VALUE_MAX_BYTES, 1 MB by default) its prefix with the original size in a header. */
function sameValue(dl: Consumed, original: Buffer): boolean {
  if (headerText(dl.headers, 'orchestry.value.truncated') !== 'true') return dl.value!.equals(original);
  return headerText(dl.headers, 'orchestry.value.original.bytes') === String(original.length) && dl.value!.length === 1_000_000 && dl.value!.equals(original.subarray(0, 1_000_000));
}

async function checkDlq(topics: TestTopics, bad: Poison[]): Promise<string[]> {
  const dlq = await readAll(topics.dlq);
  const wrong: string[] = [];
  bad.forEach((p, i) => {
    const got = dlq.filter((m) => m.key?.toString() === `poison-${i}`);
    const code = got[0] ? headerText(got[0].headers, 'orchestry.error.code') : undefined;
    if (got.length !== 1) wrong.push(`${p.kind}: ${got.length} DLQ records`);
    else if (code !== p.code) wrong.push(`${p.kind}: ${code} (${headerText(got[0]!.headers, 'orchestry.error.message')?.slice(0, 160)}), expected ${p.code}`);
    else if (!sameValue(got[0]!, p.value)) wrong.push(`${p.kind}: DLQ value bytes differ`);
    else if (headerText(got[0]!.headers, 'x-poison') !== p.kind) wrong.push(`${p.kind}: original header lost`);
  });
  return wrong;
}

test('the poison corpus mixed into valid traffic: each bad message in the DLQ with its code, each good one stored, the worker never restarts', async () => {
  const now = Date.now();
  const bad = poisonCorpus(now);
  assert.ok(bad.length >= 50, `${bad.length} kinds`);
  const topics = await testTopics(3);
  const app = 'poison-good';
  const w = await startWorker(db.url, topics, 'poison', { BATCH_MAX_MESSAGES: '100' });
  workers.push(w);
  await whenReady(w);
  const pid = w.child.pid;
  const { goodStats, goodEvents } = await mixAndProduce(topics, bad, app, now);
  await drained(db.pool, topics, 180_000);

  assert.deepEqual(await checkDlq(topics, bad), []);
  const { rows: dl } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ingest_dead_letters');
  assert.equal(dl[0]!.n, bad.length, 'ingest_dead_letters has one row per bad message');

  const { rows: m } = await db.pool.query<{ id: string; n: number }>(`SELECT labels->>'msg_id' AS id, count(*)::int AS n FROM metrics WHERE app_name = $1 GROUP BY 1`, [app]);
  const stored = new Map(m.map((r) => [r.id, r.n]));
  for (const id of goodStats) assert.equal(stored.get(id), 1, `${id} stored once`);
  const { rows: e } = await db.pool.query<{ id: string }>(`SELECT details->>'message' AS id FROM events WHERE app_name = $1 AND event_type = 'health'`, [app]);
  assert.deepEqual(e.map((r) => r.id).sort(), [...goodEvents].sort());
  const { rows: sql } = await db.pool.query(`SELECT labels FROM metrics WHERE labels->>'msg_id' LIKE 'good-sql%' ORDER BY 1`);
  assert.equal(sql.length, 2);
  assert.equal(sql.find((r) => r.labels.msg_id === 'good-sql').labels.container_id, `x'); DROP TABLE metrics; --`);
  const { rows: big } = await db.pool.query(`SELECT value FROM metrics WHERE labels->>'msg_id' = 'good-max-real'`);
  assert.equal(Math.fround(big[0].value), Math.fround(FLOAT4_MAX));

  assert.equal(w.child.exitCode, null, `the worker is still running:\n${w.output().slice(-2000)}`);
  assert.equal(w.child.pid, pid);
  assert.doesNotMatch(w.output(), /uncaught|unhandled|FATAL/i);
});

test('inputs whose failure is only found deep inside (record keys, impossible dates, NUL in an error path) get the right DLQ code', async () => {
  const now = Date.now();
  const gaps = knownGaps(now);
  const topics = await testTopics(1);
  // A long retention so 30 February of this year is inside it and reaches PostgreSQL.
  const w = await startWorker(db.url, topics, 'gaps', { RETENTION_METRICS_INSTANCE_DAYS: '3650' });
  workers.push(w);
  await whenReady(w);
  await produce(topics.stats, gaps.map((p, i) => ({ key: `poison-${i}`, value: p.value, headers: { 'x-poison': p.kind } })));
  await drained(db.pool, topics, 20_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${w.output().slice(-4000)}`);
  });
  assert.deepEqual(await checkDlq(topics, gaps), []);
});
