// The write stage against PostgreSQL directly (no broker): a chunk stores its rows, records its
// dead letters and advances the stored offset in one transaction; the DeadLetters service sends
// each dead letter before its offset passes and counts it once; a chunk whose stored offset moved
// is refused as E_FENCED, untouched by the database-error classification, and writes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IngestError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/log.ts';
import { createMetrics, type Metrics } from '../../../src/metrics.ts';
import type { Chunk } from '../../../src/ingest/chunk/chunk.ts';
import { decodeChunk } from '../../../src/ingest/decode/decode.ts';
import { DeadLetters } from '../../../src/ingest/dead-letters/dead-letters.ts';
import type { DeadLetter } from '../../../src/ingest/dead-letters/dlq.ts';
import { loadStoredOffset } from '../../../src/ingest/offsets/store.ts';
import { DayPartitions } from '../../../src/partitions/index.ts';
import { KnownApps } from '../../../src/ingest/write/placeholder-apps.ts';
import { writeChunk, type WriterDeps } from '../../../src/ingest/write/writer.ts';
import { freshDatabase, type TestDatabase } from '../../helpers/db.ts';
import { lifecycle, registered, stats } from '../../helpers/messages.ts';

let db: TestDatabase;
let deps: WriterDeps;
let metrics: Metrics;
/** What the DeadLetters service handed to the DLQ topic (here a list: no broker). */
const sent: DeadLetter[] = [];

before(async () => {
  db = await freshDatabase();
  // A rule the decoder does not know, so PostgreSQL is the one to reject a row (E_DB_REJECTED).
  await db.pool.query(`ALTER TABLE metrics ADD CONSTRAINT test_rps_cap CHECK (metric_type <> 'rps' OR value < 1000000)`);
  metrics = createMetrics(undefined, { defaultMetrics: false });
  deps = {
    pool: db.pool,
    logger: createLogger({ level: 'silent' }),
    metrics,
    workerId: 'writer-test',
    deadLetters: new DeadLetters(async (letters) => void sent.push(...letters), 'writer-test', metrics),
    partitions: new DayPartitions(db.pool),
    knownApps: new KnownApps(),
    placeholderAppsMax: 1000,
    synchronousCommit: 'off',
  };
});

after(async () => {
  await db?.drop();
});

const limits = { messageMaxBytes: 1 << 20, minTsMs: Date.now() - 86_400_000, maxTsMs: Date.now() + 60_000 };
const value = (rps: number) => Buffer.from(JSON.stringify(stats('writer-app', 'c1', Date.now(), { rps })));
/** The chunk [from, from + values.length) of `topic` (a stats topic, partition 0, unless told). */
const chunkOf = (topic: string, from: number, values: (Buffer | null)[], kind: Chunk['kind'] = 'stats', partition = 0): Chunk =>
  decodeChunk({ kind, topic, partition }, BigInt(from), values.map((v, i) => ({ offset: String(from + i), key: null, value: v, headers: {} })), limits);
const rpsRows = async () => (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics WHERE metric_type = 'rps'")).rows[0]!.n;
const ledger = async (topic: string) =>
  (await db.pool.query<{ offset: string; error_code: string }>('SELECT "offset"::text, error_code FROM ingest_dead_letters WHERE topic = $1 ORDER BY "offset"', [topic])).rows;
const dlqCount = async (code: string) => (await metrics.dlqMessages.get()).values.find((v) => v.labels.code === code)?.value ?? 0;

test('a chunk stores its rows and advances the stored offset in one transaction', async () => {
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 0n);
  const res = await writeChunk(deps, chunkOf('writer-topic', 0, [value(0), value(1)]));
  assert.equal(res.stored, 2);
  assert.equal(await rpsRows(), 2);
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 2n);
});

test('a chunk whose stored offset moved meanwhile is refused as E_FENCED and writes nothing', async () => {
  const before = await rpsRows();
  await assert.rejects(
    writeChunk(deps, chunkOf('writer-topic', 0, [value(0), value(1)])),
    (err: unknown) => err instanceof IngestError && err.code === 'E_FENCED',
  );
  assert.equal(await rpsRows(), before);
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 2n);
});

test('dead letters of the decoder and of PostgreSQL are sent, recorded with the offset they pass, and counted once', async () => {
  await loadStoredOffset(db.pool, 'dl-topic', 0, '5', 'writer-test');
  sent.length = 0;
  const [json, rejected] = [await dlqCount('E_JSON'), await dlqCount('E_DB_REJECTED')];
  const before = await rpsRows();
  // 5 stored, 6 not JSON, 7 a tombstone, 8 refused by the check constraint, 9 stored.
  const res = await writeChunk(deps, chunkOf('dl-topic', 5, [value(5), Buffer.from('not json'), null, value(2_000_000), value(9)]));
  assert.deepEqual([res.stored, res.deadLettered], [2, 2]);
  assert.equal(await rpsRows(), before + 2);
  assert.deepEqual(
    sent.map((l) => [l.topic, l.offset, l.error.code]),
    [
      ['dl-topic', '6', 'E_JSON'],
      ['dl-topic', '8', 'E_DB_REJECTED'],
    ],
  );
  assert.deepEqual(await ledger('dl-topic'), [
    { offset: '6', error_code: 'E_JSON' },
    { offset: '8', error_code: 'E_DB_REJECTED' },
  ]);
  // Counted once each, although the chunk was split and written in several transactions.
  assert.equal((await dlqCount('E_JSON')) - json, 1);
  assert.equal((await dlqCount('E_DB_REJECTED')) - rejected, 1);
  assert.equal(await loadStoredOffset(db.pool, 'dl-topic', 0, '0', 'writer-test'), 10n);
});

test('a fenced chunk records none of its dead letters and counts none: they share its transaction', async () => {
  const json = await dlqCount('E_JSON');
  sent.length = 0;
  // The stored offset of dl-topic[0] is 10: a chunk from 5 is fenced.
  await assert.rejects(
    writeChunk(deps, chunkOf('dl-topic', 5, [Buffer.from('{"v":1,'), value(1)])),
    (err: unknown) => err instanceof IngestError && err.code === 'E_FENCED',
  );
  assert.equal(sent.length, 1, 'sent before the transaction (at least once: a retry may send it again)');
  assert.deepEqual(await ledger('dl-topic'), [
    { offset: '6', error_code: 'E_JSON' },
    { offset: '8', error_code: 'E_DB_REJECTED' },
  ]);
  assert.equal(await dlqCount('E_JSON'), json);
});

test('lifecycle chunks of two partitions touching the same applications in opposite orders do not deadlock', async () => {
  const apps = Array.from({ length: 12 }, (_, i) => `order-app-${String(i).padStart(2, '0')}`);
  const t0 = Date.now() - 60_000;
  const lifecycleChunk = (partition: number, from: number, messages: object[]): Chunk =>
    chunkOf('order-life', from, messages.map((m) => Buffer.from(JSON.stringify(m))), 'lifecycle', partition);
  for (const p of [0, 1, 9]) await loadStoredOffset(db.pool, 'order-life', p, '0', 'writer-test');
  await writeChunk(deps, lifecycleChunk(9, 0, apps.map((a) => registered(a, t0))));
  const deadlocksBefore = await deadlocks();
  let from = 0;
  for (let round = 0; round < 15; round++) {
    const ts = t0 + 1000 * (round + 1);
    const status = (a: string, p: number) => lifecycle('app.status', a, ts + p, { status: round % 2 ? 'running' : 'updating' });
    // Partition 0 updates the applications in name order, partition 1 in reverse, at the same time.
    const results = await Promise.allSettled([
      writeChunk(deps, lifecycleChunk(0, from, apps.map((a) => status(a, 0)))),
      writeChunk(deps, lifecycleChunk(1, from, [...apps].reverse().map((a) => status(a, 1)))),
    ]);
    for (const r of results) {
      assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
      if (r.status === 'fulfilled') assert.equal(r.value.deadLettered, 0);
    }
    from += apps.length;
  }
  assert.equal(await deadlocks(), deadlocksBefore, 'PostgreSQL detected no deadlock');
  const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE name LIKE 'order-app-%' AND status = 'updating'");
  assert.equal(rows[0]!.n, apps.length, 'the last round (partition 1, 1 ms later) decided every status');
});

async function deadlocks(): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('SELECT deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0]!.n);
}
