// The archive job and restore against both destinations, file:// and s3:// (a real S3Proxy that
// this file starts): Parquet round trips of hostile rows, each object read by an independent
// reader (hyparquet, not the writer), crash points resumed, tampering refused, an S3 outage, and
// the forged archives of issue 11 refused with nothing inserted.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parquetMetadata, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { columnsOf, selectExpr } from '../../src/archive/columns.ts';
import { destinationFor, getText, type Destination } from '../../src/archive/destination.ts';
import { restoreArchive } from '../../src/archive/restore.ts';
import { verifyObject } from '../../src/archive/verify.ts';
import type { Config } from '../../src/config.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { ownS3, type OwnS3 } from '../helpers/s3.ts';
import { childrenOf, dayIso, dayTag, runJob, runnerFor, testConfig } from './helpers.ts';

let s3: OwnS3;
before(async () => {
  s3 = await ownS3();
});
after(async () => {
  await s3?.down();
});

/** A row as text for checksums: fractions as float32 (the only non-integers here are REAL), the rest as they are. */
const cell = (v: unknown) => (v === null || v === undefined ? '\\N' : typeof v === 'number' && !Number.isInteger(v) ? String(Math.fround(v)) : String(v));
const canon = (row: unknown[]) => row.map(cell).join('\x1f');
const digest = (rows: unknown[][]) => ({ n: rows.length, sha: createHash('sha256').update(rows.map(canon).join('\n')).digest('hex') });

async function sourceDigest(db: TestDatabase, table: string) {
  const cols = await columnsOf(db.pool, table);
  const { rows } = await db.pool.query<unknown[]>({ text: `SELECT ${cols.map(selectExpr).join(', ')} FROM ${table} ORDER BY id`, rowMode: 'array' });
  return digest(rows);
}

async function bytesOf(dest: Destination, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await dest.get(key)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** The object read by hyparquet: its rows (timestamps as epoch µs), ordered by id, as a digest. */
async function independentDigest(dest: Destination, key: string) {
  const buf = await bytesOf(dest, key);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
  const meta = parquetMetadata(file);
  const ts = meta.schema.find((s) => s.name === 'timestamp');
  assert.deepEqual(ts?.logical_type, { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
  let rows: unknown[][] = [];
  await parquetRead({ file, compressors, parsers: { timestampFromMicroseconds: (us: bigint) => us }, onComplete: (r) => (rows = r as unknown[][]) });
  rows.sort((a, b) => (BigInt(a[0] as bigint) < BigInt(b[0] as bigint) ? -1 : 1));
  return digest(rows);
}

const hostile = `E'tab\\there nl\\nback\\\\slash \\\\N "dq" ''sq'' \u{1F600} '`;

/** Hostile rows on day `k`: metrics at both levels and events, µs timestamps, NULLs, 10 KB labels. */
async function seedDay(db: TestDatabase, k: number, n = 1500, what: ('instance' | 'app' | 'events')[] = ['instance', 'app', 'events']) {
  const day = dayIso(k);
  await db.pool.query(`SELECT orchestry_ensure_day_partition('events', $1::date), orchestry_ensure_day_partition('metrics', $1::date, ARRAY['instance', 'app'])`, [day]);
  for (const level of what.filter((w) => w !== 'events')) {
    await db.pool.query(`
      INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
      SELECT CASE WHEN i % 5 = 0 THEN ${hostile} ELSE 'web' END, 'cpu_percent', $1::date + make_interval(secs => i * 13.123457),
             CASE WHEN i % 13 = 0 THEN -i / 3.0 ELSE i / 7.0 END,
             CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN jsonb_build_object('big', repeat('x', 10240)) ELSE jsonb_build_object('s', ${hostile} || i) END,
             CASE WHEN i % 3 = 0 THEN NULL ELSE '%' END, $2
        FROM generate_series(1, $3::int) i`, [day, level, n]);
  }
  if (what.includes('events')) {
    await db.pool.query(`
      INSERT INTO events (event_type, app_name, container_id, message, details, severity, timestamp, node_id)
      SELECT 'error', CASE WHEN i % 4 = 0 THEN NULL ELSE 'web' END, CASE WHEN i % 2 = 0 THEN NULL ELSE 'c-' || i END,
             CASE WHEN i % 9 = 0 THEN repeat('m', 10240) ELSE ${hostile} || i END,
             CASE WHEN i % 6 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'nested', jsonb_build_object('s', ${hostile})) END,
             'error', $1::date + make_interval(secs => i * 17.000001), NULL
        FROM generate_series(1, $2::int) i`, [day, n]);
  }
}

const keyOf = (table: string, day: string, level: string | null, gen = 1) =>
  `table=${table}/${level ? `level=${level}/` : ''}day=${day}/part-${String(gen - 1).padStart(5, '0')}.parquet`;

const codeOf = (code: string, message?: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

for (const kind of ['file', 's3'] as const) {
  describe(`archive to ${kind}://`, () => {
    let db: TestDatabase;
    let config: Config;
    let dest: Destination;
    /** Every object key under the destination. */
    let keys: () => Promise<string[]>;

    before(async () => {
      db = await freshDatabase();
      await db.pool.query(`INSERT INTO applications (name, spec) VALUES ('web', '{}')`);
      const base = { RETENTION_METRICS_APP_DAYS: '30', RETENTION_EVENTS_DAYS: '30', RETENTION_METRICS_INSTANCE_DAYS: '30' };
      config = testConfig(db.url, kind === 's3' ? { ...base, ...s3.env, ARCHIVE_URL: `${s3.env.ARCHIVE_URL}-${db.name}` } : base);
      if (kind === 'file') config = { ...config, archive: { ...config.archive, url: `file://${config.archiveDir}` } };
      dest = destinationFor(config.archive.url, config.archive.s3);
      keys = kind === 's3'
        ? async () => (await s3.keys(`archive-${db.name}/`)).filter((k) => !k.endsWith('/')).map((k) => k.slice(`archive-${db.name}/`.length))
        : async () => (await readdir(config.archiveDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(config.archiveDir, join(e.parentPath, e.name))).sort();
    });
    after(async () => {
      await db?.drop();
    });

    test('events and both metrics levels round trip through Parquet: the independent reader sees every row, restore gives them back column by column', async () => {
      await seedDay(db, -20);
      const parts = { instance: `metrics_p${dayTag(-20)}_instance`, app: `metrics_p${dayTag(-20)}_app`, events: `events_p${dayTag(-20)}` };
      const before = { instance: await sourceDigest(db, parts.instance), app: await sourceDigest(db, parts.app), events: await sourceDigest(db, parts.events) };
      assert.equal(before.instance.n, 1500);
      const run = await runJob(db.pool, config, 'archive', { older_than: '19d' });
      assert.equal(run.rowsAffected, 4500);
      for (const p of Object.values(parts)) assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [p])).rows[0].t, null, `${p} dropped`);
      const day = dayIso(-20);
      const objects = { instance: keyOf('metrics', day, 'instance'), app: keyOf('metrics', day, 'app'), events: keyOf('events', day, null) };
      assert.deepEqual(await keys(), Object.values(objects).flatMap((k) => [k.replace('.parquet', '.manifest.json'), k]).sort());
      for (const [name, key] of Object.entries(objects) as [keyof typeof objects, string][]) {
        assert.deepEqual(await independentDigest(dest, key), before[name], `${key} read by hyparquet`);
        const m = JSON.parse((await getText(dest, key.replace('.parquet', '.manifest.json')))!);
        assert.equal(m.rows, 1500);
        assert.match(m.minTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        const { rows: led } = await db.pool.query(`SELECT state, file, sha256 FROM archive_ledger WHERE partition = $1`, [parts[name]]);
        assert.deepEqual(led, [{ state: 'dropped', file: dest.urlOf(key), sha256: m.sha256 }]);
      }
      for (const key of Object.values(objects)) await restoreArchive(db.pool, dest.urlOf(key), config.archive.s3);
      for (const [name, p] of Object.entries(parts) as [keyof typeof parts, string][]) assert.deepEqual(await sourceDigest(db, p), before[name], `${p} restored`);
      // A restored partition stays until an operator asks.
      await runJob(db.pool, config, 'retention');
      await runJob(db.pool, config, 'archive', { older_than: '19d' });
      assert.ok((await childrenOf(db.pool, `metrics_p${dayTag(-20)}`)).includes(parts.instance), 'kept by retention and archive');
    });

    for (const [k, point, state] of [[-22, 'during-upload', 'detached'], [-23, 'after-upload', 'detached'], [-24, 'after-verify', 'verified']] as const) {
      test(`a run that fails ${point.replace('-', ' ')} is finished by the next run: one object, no loss`, async () => {
        await seedDay(db, k, 1200, ['instance']);
        const part = `metrics_p${dayTag(k)}_instance`;
        const src = await sourceDigest(db, part);
        const before = await keys();
        const runner = runnerFor(db.pool, config, { faults: new Set([`archive:${point}`]) });
        const failed = await (await runner.trigger('archive', { older_than: '21d' }, 'cli')).done;
        await runner.stop();
        assert.equal(failed.status, 'failed');
        assert.match(failed.error ?? '', new RegExp(`fault injected at archive:${point}`));
        assert.equal((await db.pool.query(`SELECT state FROM archive_ledger WHERE partition = $1`, [part])).rows[0].state, state);
        assert.deepEqual(await sourceDigest(db, part), src, 'the detached table still holds every row');
        const objectKey = keyOf('metrics', dayIso(k), 'instance');
        assert.equal((await keys()).includes(objectKey), point !== 'during-upload', 'an interrupted upload leaves no object');

        await runJob(db.pool, config, 'archive', { older_than: '21d' });
        assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [part])).rows[0].t, null, 'dropped');
        const added = (await keys()).filter((x) => !before.includes(x));
        assert.deepEqual(added, [objectKey.replace('.parquet', '.manifest.json'), objectKey]);
        assert.deepEqual(await independentDigest(dest, objectKey), src);
        assert.deepEqual((await db.pool.query(`SELECT generation, state FROM archive_ledger WHERE partition = $1`, [part])).rows, [{ generation: 1, state: 'dropped' }]);
      });
    }

    test('a tampered object is refused by the verify before drop, and the partition is kept until the object is whole', async () => {
      await seedDay(db, -25, 1000, ['instance']);
      const part = `metrics_p${dayTag(-25)}_instance`;
      const src = await sourceDigest(db, part);
      const key = keyOf('metrics', dayIso(-25), 'instance');
      const runner = runnerFor(db.pool, config, { faults: new Set([`archive:after-export:${part}`]) });
      assert.equal((await (await runner.trigger('archive', { older_than: '21d' }, 'cli')).done).status, 'failed');
      await runner.stop();
      const good = await bytesOf(dest, key);
      const bad = Buffer.from(good);
      bad[Math.floor(bad.length / 2)]! ^= 0x01;
      await dest.put(key, bad);
      await assert.rejects(runJob(db.pool, config, 'archive', { older_than: '21d' }), /E_ARCHIVE_CORRUPT|read back .* expected/);
      assert.deepEqual(await sourceDigest(db, part), src, 'kept, every row');
      await dest.put(key, good);
      await runJob(db.pool, config, 'archive', { older_than: '21d' });
      assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [part])).rows[0].t, null);
    });

    test('a tampered (one byte) or truncated object is refused by verify and by restore, and nothing is inserted', async () => {
      const key = keyOf('metrics', dayIso(-22), 'instance');
      const good = await bytesOf(dest, key);
      const manifest = (await getText(dest, key.replace('.parquet', '.manifest.json')))!;
      const m = JSON.parse(manifest);
      const total = async () => (await db.pool.query(`SELECT count(*)::int AS n FROM metrics`)).rows[0].n;
      const n0 = await total();
      const flipped = Buffer.from(good);
      flipped[100]! ^= 0x80;
      for (const [name, bytes] of [['tampered', flipped], ['truncated', good.subarray(0, good.length - 10)]] as const) {
        const k = `${name}/part-00000.parquet`;
        await dest.put(k, bytes);
        await dest.put(`${name}/part-00000.manifest.json`, Buffer.from(manifest));
        await assert.rejects(verifyObject(dest, k, { sha256: m.sha256, rows: m.rows, encoding: 'parquet' }), codeOf('E_ARCHIVE_CORRUPT'));
        await assert.rejects(restoreArchive(db.pool, dest.urlOf(k), config.archive.s3), codeOf('E_ARCHIVE_CORRUPT', /sha256/));
      }
      assert.equal(await total(), n0);
      assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [`metrics_p${dayTag(-22)}_instance`])).rows[0].t, null, 'no partition made');
    });

    test('forged archives are refused with nothing inserted: another day, a rollups parent, a sha256 the ledger does not know', async () => {
      const day = dayIso(-20);
      // Day -20 was restored by the first test: archive it again so the ledger and the objects are current.
      await runJob(db.pool, config, 'archive', { older_than: '19d', include_restored: true });
      const inst = keyOf('metrics', day, 'instance', 2);
      const app = keyOf('metrics', day, 'app', 2);
      const mInst = JSON.parse((await getText(dest, inst.replace('.parquet', '.manifest.json')))!);
      const mApp = JSON.parse((await getText(dest, app.replace('.parquet', '.manifest.json')))!);
      const counts = async () => (await db.pool.query(`SELECT (SELECT count(*)::int FROM metrics) AS m, (SELECT count(*)::int FROM metric_rollups) AS r`)).rows[0];
      const c0 = await counts();
      const forge = async (name: string, bytes: Buffer, manifest: object) => {
        await dest.put(`${name}/part-00000.parquet`, bytes);
        await dest.put(`${name}/part-00000.manifest.json`, Buffer.from(JSON.stringify(manifest)));
        return dest.urlOf(`${name}/part-00000.parquet`);
      };
      const old = await forge('forged-2020', await bytesOf(dest, inst), { ...mInst, day: '2020-01-01', partition: 'metrics_p20200101_instance', generation: 1 });
      await assert.rejects(restoreArchive(db.pool, old, config.archive.s3), codeOf('E_ARCHIVE_REFUSED', /lie outside metrics 2020-01-01/));
      const rollup = await forge('forged-rollup', await bytesOf(dest, inst), { ...mInst, parent: 'metric_rollups' });
      await assert.rejects(restoreArchive(db.pool, rollup, config.archive.s3), codeOf('E_ARCHIVE_REFUSED', /parent/));
      const swapped = await forge('swapped', await bytesOf(dest, app), { ...mInst, sha256: mApp.sha256, rows: mApp.rows });
      await assert.rejects(restoreArchive(db.pool, swapped, config.archive.s3), codeOf('E_ARCHIVE_REFUSED', /archive_ledger/));
      assert.deepEqual(await counts(), c0, 'nothing inserted');
      assert.equal((await db.pool.query(`SELECT to_regclass('metrics_p20200101') AS t`)).rows[0].t, null);
    });

    test('older_than below one day is refused without force', async () => {
      await assert.rejects(runJob(db.pool, config, 'archive', { older_than: '1h' }), /at least 1d/);
    });

    if (kind === 's3') {
      test('with the S3 server stopped the job fails, is retried, and the partition is dropped only once an upload verifies', async () => {
        await seedDay(db, -26, 1000, ['events']);
        const part = `events_p${dayTag(-26)}`;
        const src = await sourceDigest(db, part);
        await s3.stop();
        const runner = runnerFor(db.pool, config, { retryBaseMs: 200 });
        try {
          const { runId, done } = await runner.trigger('archive', { older_than: '21d' }, 'api');
          const failed = await done;
          assert.equal(failed.status, 'failed');
          assert.deepEqual(await sourceDigest(db, part), src, 'kept while the destination is away');
          assert.notEqual((await db.pool.query(`SELECT state FROM archive_ledger WHERE partition = $1`, [part])).rows[0].state, 'dropped');
          await s3.start();
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(await runner.runDueRetries(), 1);
          let retry;
          for (let i = 0; i < 300 && retry?.status !== 'succeeded' && retry?.status !== 'failed'; i++) {
            await new Promise((r) => setTimeout(r, 200));
            retry = (await db.pool.query(`SELECT status, attempt, error FROM job_runs WHERE retry_of = $1`, [runId])).rows[0];
          }
          assert.equal(retry?.status, 'succeeded', retry?.error);
          assert.equal(retry?.attempt, 2);
        } finally {
          await runner.stop();
        }
        assert.equal((await db.pool.query(`SELECT to_regclass($1) AS t`, [part])).rows[0].t, null);
        assert.deepEqual(await independentDigest(dest, keyOf('events', dayIso(-26), null)), src);
      });
    }
  });
}
