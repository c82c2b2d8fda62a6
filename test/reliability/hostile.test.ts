// Hostile input (issue 11) against a real worker process (--max-old-space-size=256) and the real
// broker: each case is followed by a good message on the same partition, which must be stored; the
// worker never restarts, its peak RSS (VmHWM) stays under 300 MB, and each dead letter has its code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { headerText, produce, readAll, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { waitUntil } from '../helpers/worker.ts';
import { bomb, produceCompressed, type CodecName } from '../helpers/bombs.ts';
import { startWorker, stopAll, whenReady, type Worker } from '../faults/harness.ts';

const MB = 1024 * 1024;
const APP = 'hostile-good';
let db: TestDatabase;
let topics: TestTopics;
let w: Worker;
let pid: number | undefined;
const peaks: string[] = [];

/** Peak resident memory of the worker (VmHWM), in MB. */
function peakMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

before(async () => {
  db = await freshDatabase();
  topics = await testTopics(1);
  await produce(topics.lifecycle, [{ key: APP, value: registered(APP, Date.now()) }]);
  w = await startWorker(db.url, topics, 'hostile', { NODE_OPTIONS: '--max-old-space-size=256', PLACEHOLDER_APPS_MAX: '5' });
  await whenReady(w);
  pid = w.child.pid;
});
after(async () => {
  if (peaks.length > 0) console.log(`\npeak RSS (VmHWM) of the worker after each case:\n${peaks.join('\n')}\n`);
  await stopAll(w ? [w] : [], 5000);
  await db?.drop();
});

let seq = 0;
/** Sends a good stats message on the same (only) partition and waits until its row is stored. */
async function goodStatsStored(label: string): Promise<void> {
  const id = `good-${label}-${++seq}`;
  await produce(topics.stats, [{ key: 'c-good', value: stats(APP, 'c-good', Date.now(), { labels: { msg_id: id } }) }]);
  await waitUntil(`${id} stored after ${label}`, async () => {
    const { rows } = await db.pool.query(`SELECT 1 FROM metrics WHERE labels->>'msg_id' = $1`, [id]);
    return rows.length > 0;
  }, 90_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${w.output().slice(-3000)}`);
  });
}

/** Sends a good lifecycle message and waits until its event is stored. */
async function goodEventStored(label: string): Promise<void> {
  const id = `good-${label}-${++seq}`;
  await produce(topics.lifecycle, [{ key: APP, value: { v: 1, type: 'app.status', app: APP, ts: Date.now(), status: 'running', node_id: id } }]);
  await waitUntil(`${id} stored after ${label}`, async () => {
    const { rows } = await db.pool.query(`SELECT 1 FROM events WHERE node_id = $1`, [id]);
    return rows.length > 0;
  }, 90_000);
}

async function deadLetters(key: string) {
  return (await readAll(topics.dlq)).filter((m) => m.key?.toString() === key);
}

function assertAlive(label: string): void {
  assert.equal(w.child.exitCode, null, `the worker is running after ${label}:\n${w.output().slice(-2000)}`);
  assert.equal(w.child.pid, pid, 'no restart');
  const peak = peakMb();
  peaks.push(`  ${label}: ${peak.toFixed(0)} MB`);
  assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MB after ${label}`);
}

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as CodecName[]) {
  test(`a ${codec} batch inflating to 300 MB is dead-lettered E_TOO_LARGE with its offset, and the next message on the partition is stored`, async () => {
    const payload = await bomb(codec, 300 * MB);
    const key = `bomb-${codec}`;
    // The producer's key is inside the compressed records, which are never inflated: find the dead letter by offset.
    const before = (await readAll(topics.dlq)).length;
    await produceCompressed(topics.stats, codec, payload, key);
    await goodStatsStored(`${codec} bomb (${(payload.length / 1024).toFixed(0)} KB)`);
    const dlq = (await readAll(topics.dlq)).slice(before);
    assert.equal(dlq.length, 1, `one dead letter for the bomb's one record`);
    assert.equal(headerText(dlq[0]!.headers, 'orchestry.error.code'), 'E_TOO_LARGE');
    assert.match(headerText(dlq[0]!.headers, 'orchestry.error.message')!, new RegExp(codec));
    assert.equal(headerText(dlq[0]!.headers, 'orchestry.source.topic'), topics.stats);
    const offset = headerText(dlq[0]!.headers, 'orchestry.source.offset')!;
    const { rows } = await db.pool.query(`SELECT error_code FROM ingest_dead_letters WHERE topic = $1 AND "offset" = $2`, [topics.stats, offset]);
    assert.deepEqual(rows, [{ error_code: 'E_TOO_LARGE' }]);
    assertAlive(`${codec} bomb`);
  });
}

test('an app.registered spec nested 5,000 deep is dead-lettered E_SCHEMA and the next lifecycle message is applied', async () => {
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  await produce(topics.lifecycle, [{ key: 'deep', value: `{"v":1,"type":"app.registered","app":"deep","ts":${Date.now()},"spec":${deep}}` }]);
  await goodEventStored('deep nesting');
  const dlq = await deadLetters('deep');
  assert.deepEqual(dlq.map((m) => headerText(m.headers, 'orchestry.error.code')), ['E_SCHEMA']);
  assertAlive('deep nesting');
});

test('an app.registered with a malformed scaling section is the decoder\'s E_SCHEMA (not a database rejection), and the next message is applied', async () => {
  await produce(topics.lifecycle, [{ key: 'bad-scaling', value: registered('bad-scaling', Date.now(), { scaling: { minReplicas: 'x' } }) }]);
  await goodEventStored('malformed scaling');
  const dlq = await deadLetters('bad-scaling');
  assert.deepEqual(dlq.map((m) => headerText(m.headers, 'orchestry.error.code')), ['E_SCHEMA']);
  assert.match(headerText(dlq[0]!.headers, 'orchestry.error.message')!, /scaling\.minReplicas/);
  const { rows } = await db.pool.query(`SELECT 1 FROM applications WHERE name = 'bad-scaling'`);
  assert.equal(rows.length, 0);
  assertAlive('malformed scaling');
});

test('a ts of 23:59:59.9999999Z is stored at the next midnight (as PostgreSQL rounds it), and the next message is stored', async () => {
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const today = new Date().toISOString().slice(0, 10);
  await produce(topics.stats, [{ key: 'midnight', value: stats(APP, 'c-midnight', `${yesterday}T23:59:59.9999999Z`, { labels: { msg_id: 'midnight' } }) }]);
  await goodStatsStored('23:59:59.9999999Z');
  const { rows } = await db.pool.query<{ t: string }>(`SELECT to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM metrics WHERE labels->>'msg_id' = 'midnight'`);
  assert.deepEqual([...new Set(rows.map((r) => r.t))], [`${today} 00:00:00.000000`]);
  assertAlive('23:59:59.9999999Z');
});

test('a row whose day was archived is dead-lettered E_OUT_OF_RANGE, not retried, and the next message is stored', async () => {
  const ms = Date.now() - 3 * 86_400_000;
  const day = new Date(ms).toISOString().slice(0, 10);
  const part = `metrics_p${day.replaceAll('-', '')}`;
  await db.pool.query(`INSERT INTO archive_ledger (partition, parent, day, state) VALUES ($1, $2, $3::date, 'dropped')`, [`${part}_instance`, part, day]);
  await produce(topics.stats, [{ key: 'archived', value: stats(APP, 'c-archived', ms) }]);
  await goodStatsStored('archived day');
  const dlq = await deadLetters('archived');
  assert.deepEqual(dlq.map((m) => headerText(m.headers, 'orchestry.error.code')), ['E_OUT_OF_RANGE']);
  assertAlive('archived day');
});

test('a message over MESSAGE_MAX_BYTES and DLQ_VALUE_MAX_BYTES is dead-lettered E_TOO_LARGE with a truncated value and its original size', async () => {
  const value = Buffer.alloc(2 * MB, 0x20);
  value.write(`{"v":1,"app":"${APP}"`, 0);
  await produce(topics.stats, [{ key: 'oversized', value }]);
  await goodStatsStored('2 MB message');
  const [dl] = await deadLetters('oversized');
  assert.equal(headerText(dl!.headers, 'orchestry.error.code'), 'E_TOO_LARGE');
  assert.equal(headerText(dl!.headers, 'orchestry.value.truncated'), 'true');
  assert.equal(headerText(dl!.headers, 'orchestry.value.original.bytes'), String(2 * MB));
  assert.equal(dl!.value!.length, 1_000_000);
  assert.ok(dl!.value!.equals(value.subarray(0, 1_000_000)));
  assertAlive('2 MB message');
});

test('a flood of unknown apps past PLACEHOLDER_APPS_MAX (5) makes 5 placeholders, dead-letters the rest E_PLACEHOLDER_LIMIT, and the next message is stored', async () => {
  const flood = Array.from({ length: 20 }, (_, n) => ({ key: `flood-${n}`, value: stats(`flood-app-${String(n).padStart(2, '0')}`, `c-flood-${n}`, Date.now()) }));
  await produce(topics.stats, flood);
  await goodStatsStored('placeholder flood');
  const { rows } = await db.pool.query<{ name: string }>(`SELECT name FROM applications WHERE spec @> '{"placeholder": true}' ORDER BY name`);
  assert.deepEqual(rows.map((r) => r.name), ['flood-app-00', 'flood-app-01', 'flood-app-02', 'flood-app-03', 'flood-app-04']);
  const dlq = (await readAll(topics.dlq)).filter((m) => m.key?.toString().startsWith('flood-'));
  assert.equal(dlq.length, 15);
  assert.ok(dlq.every((m) => headerText(m.headers, 'orchestry.error.code') === 'E_PLACEHOLDER_LIMIT'));
  const text = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
  assert.match(text, /^orchestry_ingest_placeholder_apps 5$/m);
  assert.match(text, /^orchestry_ingest_placeholder_apps_refused_total 15$/m);
  assertAlive('placeholder flood');
});
