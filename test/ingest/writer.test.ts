// The writer against PostgreSQL directly (no broker): a chunk whose stored offset moved is refused
// as E_FENCED, untouched by the database-error classification, and writes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IngestError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { decodeMessage } from '../../src/ingest/decode.ts';
import { loadStoredOffset } from '../../src/ingest/offsets.ts';
import { writeChunk, type WriterDeps } from '../../src/ingest/writer.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { stats } from '../helpers/messages.ts';

let db: TestDatabase;
let deps: WriterDeps;

before(async () => {
  db = await freshDatabase();
  deps = {
    pool: db.pool,
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(undefined, { defaultMetrics: false }),
    workerId: 'writer-test',
    sendDeadLetters: async () => {},
    knownApps: new Set(),
    placeholderAppsMax: 1000,
  };
});

after(async () => {
  await db?.drop();
});

const limits = { messageMaxBytes: 1 << 20, minTsMs: Date.now() - 86_400_000, maxTsMs: Date.now() + 60_000 };
const item = (offset: number) =>
  decodeMessage('stats', { offset: String(offset), key: null, value: Buffer.from(JSON.stringify(stats('writer-app', 'c1', Date.now(), { rps: offset }))), headers: {} }, limits);
const rpsRows = async () => (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics WHERE metric_type = 'rps'")).rows[0]!.n;

test('a chunk stores its rows and advances the stored offset in one transaction', async () => {
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 0n);
  const res = await writeChunk(deps, 'stats', 'writer-topic', 0, [item(0), item(1)], 0n, 2n);
  assert.equal(res.stored, 2);
  assert.equal(await rpsRows(), 2);
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 2n);
});

test('a chunk whose stored offset moved meanwhile is refused as E_FENCED and writes nothing', async () => {
  const before = await rpsRows();
  await assert.rejects(
    writeChunk(deps, 'stats', 'writer-topic', 0, [item(0), item(1)], 0n, 2n),
    (err: unknown) => err instanceof IngestError && err.code === 'E_FENCED',
  );
  assert.equal(await rpsRows(), before);
  assert.equal(await loadStoredOffset(db.pool, 'writer-topic', 0, '0', 'writer-test'), 2n);
});
