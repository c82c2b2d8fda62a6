// The fault suite (issue 7): each case under sustained load from the load generator, every message
// with a unique id, then an exact account (source topics vs metrics/events + DLQ). Runs on its own
// Kafka and PostgreSQL under a temporary STACK_DIR (it stops and starts them), stopped in after().
// FAULTS_PROFILE=ci runs a shorter profile (see harness.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { testTopics, type TestTopics } from '../helpers/kafka.ts';
import { LoadGenerator, account, formatTable, type Account } from '../helpers/load.ts';
import { ownStack, useStack, type OwnStack } from '../helpers/stack.ts';
import { P, PROFILE, between, drained, kill, pollReadyz, readyAgain, rssMb, sleep, startWorker, stopAll, storedSum, whenReady, type Worker } from './harness.ts';

let stack: OwnStack;
const workers: Worker[] = [];
const dbs: TestDatabase[] = [];
const rows: Account[] = [];
const notes: Record<string, string>[] = [];
const t0 = Date.now();

before(async () => {
  stack = await ownStack({ kafka: true, postgres: true });
  useStack(stack);
});

after(async () => {
  await stopAll(workers, 5000).catch(() => {});
  for (const db of dbs) await db.pool.end().catch(() => {});
  await stack?.down();
  console.log(`\nfault suite, profile ${PROFILE}, ${Math.round((Date.now() - t0) / 1000)} s\n${formatTable(rows, notes)}\n`);
});

async function setup(partitions = 6): Promise<{ db: TestDatabase; topics: TestTopics }> {
  const db = await freshDatabase();
  dbs.push(db);
  return { db, topics: await testTopics(partitions) };
}

async function worker(db: TestDatabase, topics: TestTopics, name: string, extra: Record<string, string> = {}): Promise<Worker> {
  const w = await startWorker(db.url, topics, name, extra);
  workers.push(w);
  return w;
}

async function finish(fault: string, db: TestDatabase, topics: TestTopics, load: LoadGenerator, live: Worker[], note: Record<string, string> = {}): Promise<Account> {
  await load.stop();
  await drained(db.pool, topics, 240_000);
  await stopAll(live);
  const acc = await account(fault, db.pool, load);
  rows.push(acc);
  notes.push({ ...note, failedSends: String(load.stats.failedSends) });
  assert.ok(acc.produced > 0);
  assert.equal(acc.lost, 0, `lost ids: ${acc.lostIds.slice(0, 10).join(', ')}`);
  assert.equal(acc.duplicated, 0, `duplicated ids: ${acc.duplicatedIds.slice(0, 10).join(', ')}`);
  assert.equal(acc.deadLetterRows, acc.dlq, 'ingest_dead_letters holds each dead letter once');
  return acc;
}

/** storedSum, retried: the pool may hold connections a restart broke. */
async function storedSumRetried(db: TestDatabase, topics: TestTopics): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await storedSum(db.pool, topics);
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(100);
    }
  }
}

test(`SIGKILL the worker at ${P.kills} random moments under load, restarting it each time`, async () => {
  const { db, topics } = await setup();
  const load = new LoadGenerator({ topics, ratePerSec: P.rate, badEvery: 50 });
  let w = await worker(db, topics, 'kill-0');
  await whenReady(w);
  load.start();
  for (let k = 1; k <= P.kills; k++) {
    await sleep(between(P.killGapMs[0]!, P.killGapMs[1]!));
    const exit = await kill(w);
    assert.equal(exit.signal, 'SIGKILL', `worker ${w.name} was alive until killed:\n${w.output().slice(-2000)}`);
    w = await worker(db, topics, `kill-${k}`);
    // Half of the kills hit a worker still starting or joining; the others one in full flow.
    if (k % 2 === 0) await whenReady(w);
  }
  await whenReady(w);
  await sleep(3000);
  await finish(`SIGKILL x${P.kills}`, db, topics, load, [w], { kills: String(P.kills) });
});

test(`PostgreSQL crashed (immediate shutdown) and down for ${P.pgOutageMs / 1000} s: bounded memory, /readyz 503 then 200, nothing lost`, async () => {
  const { db, topics } = await setup();
  const w = await worker(db, topics, 'pg-outage');
  await whenReady(w);
  const load = new LoadGenerator({ topics, ratePerSec: P.rate, badEvery: 50 });
  load.start();
  await sleep(8000);
  const base = rssMb(w.child.pid)!;
  // A crash, not a clean stop: the ingest transactions commit asynchronously (INGEST_SYNCHRONOUS_COMMIT
  // off), so the last ones may be taken back by recovery, stored offsets with them.
  const storedBefore = await storedSumRetried(db, topics);
  await stack.stopPostgres('immediate');
  let peak = base;
  const statuses = await pollReadyz(w, P.pgOutageMs, 500, () => (peak = Math.max(peak, rssMb(w.child.pid) ?? 0)));
  await stack.startPostgres();
  const storedAfter = await storedSumRetried(db, topics); // below storedBefore: recovery took commits back
  const { status: ready, seconds: recoverS } = await readyAgain(w, 60_000, 250);
  assert.ok(statuses.has(503), `/readyz answered 503 while PostgreSQL was down (saw ${[...statuses].join(', ')})`);
  assert.equal(ready, 200, '/readyz is 200 again after PostgreSQL is back');
  assert.equal(w.child.exitCode, null, 'the worker kept running');
  // Bounded: the consumer paused; what kafkajs buffers is bounded by the fetch sizes.
  assert.ok(peak - base < 300, `RSS grew from ${base.toFixed(0)} MB to ${peak.toFixed(0)} MB during the outage`);
  await sleep(5000);
  await finish(`PostgreSQL crash, ${P.pgOutageMs / 1000} s`, db, topics, load, [w], {
    rssBeforeMB: base.toFixed(0),
    rssPeakMB: peak.toFixed(0),
    readyAfterS: recoverS,
    offsetsTakenBack: String(Math.max(0, storedBefore - storedAfter)),
  });
});

test(`the Kafka broker stopped for ${P.kafkaOutageMs / 1000} s and started again`, async () => {
  const { db, topics } = await setup();
  // A short session timeout, so that readiness must notice the lost broker within the outage.
  const w = await worker(db, topics, 'kafka-outage', { KAFKA_SESSION_TIMEOUT_MS: '10000' });
  await whenReady(w);
  const load = new LoadGenerator({ topics, ratePerSec: P.rate, badEvery: 50 });
  load.start();
  await sleep(8000);
  await stack.stopKafka();
  const statuses = await pollReadyz(w, P.kafkaOutageMs, 1000);
  await stack.startKafka();
  const { status: ready, seconds: recoverS } = await readyAgain(w, 120_000, 500);
  assert.equal(w.child.exitCode, null, `the worker kept running:\n${w.output().slice(-2000)}`);
  assert.ok(statuses.has(503), `/readyz turned 503 while the broker was away (saw ${[...statuses].join('/')})`);
  assert.equal(ready, 200, `/readyz is 200 again after the broker is back:\n${w.output().slice(-2000)}`);
  await sleep(8000);
  await finish(`Kafka down ${P.kafkaOutageMs / 1000} s`, db, topics, load, [w], { readyDuring: [...statuses].join('/'), readyAfterS: recoverS });
});

test('three workers in one group: one killed and one added during load', async () => {
  const { db, topics } = await setup(6);
  const group = [await worker(db, topics, 'g-1'), await worker(db, topics, 'g-2'), await worker(db, topics, 'g-3')];
  await Promise.all(group.map((w) => whenReady(w)));
  const load = new LoadGenerator({ topics, ratePerSec: P.rate, badEvery: 50 });
  load.start();
  await sleep(P.groupPhaseMs);
  const killed = await kill(group[1]!);
  assert.equal(killed.signal, 'SIGKILL');
  await sleep(P.groupPhaseMs);
  const added = await worker(db, topics, 'g-4');
  await whenReady(added);
  await sleep(P.groupPhaseMs);
  const live = [group[0]!, group[2]!, added];
  for (const w of live) assert.equal(w.child.exitCode, null, `${w.name} kept running`);
  await finish('3 workers: 1 killed, 1 added', db, topics, load, live);
});

test('the scheduler runs retention and archive during ingestion', async () => {
  const { db, topics } = await setup();
  const archiveDir = await mkdtemp(join(tmpdir(), 'orchestry-archive-'));
  const token = 'fault-suite-admin-token-0123456789';
  const w = await worker(db, topics, 'sched', {
    SCHEDULER_ENABLED: 'true',
    ADMIN_TOKEN: token,
    ARCHIVE_DIR: archiveDir,
    RETENTION_EVENTS_DAYS: '10',
    RETENTION_METRICS_INSTANCE_DAYS: '7',
  });
  try {
    await whenReady(w);
    const load = new LoadGenerator({ topics, ratePerSec: P.rate, badEvery: 50 });
    load.start();
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${w.port}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const runJob = async (job: string, params: unknown) => {
      for (;;) {
        const r = await api('POST', `/admin/jobs/${job}`, params);
        if (r.status === 409) {
          await sleep(500); // a scheduled run of the same job is in flight
          continue;
        }
        assert.equal(r.status, 202, JSON.stringify(r.body));
        for (;;) {
          const run = await api('GET', `/admin/jobs/runs/${r.body.runId}`);
          if (run.body.status === 'succeeded') return run.body;
          assert.notEqual(run.body.status, 'failed', JSON.stringify(run.body));
          await sleep(300);
        }
      }
    };
    let dropped = 0;
    for (let round = 0; round < P.schedulerRounds; round++) {
      // Old days for the jobs to work on: metrics 20+ days old (archived), events 40+ days old (retention).
      await db.pool.query(`SELECT orchestry_ensure_apps(ARRAY['old-app'], now())`);
      for (const [table, days] of [['metrics', 20 + round], ['events', 40 + round]] as const) {
        await db.pool.query(`SELECT orchestry_ensure_day_partition($1, (now() AT TIME ZONE 'UTC')::date - $2::int)`, [table, days]);
      }
      await db.pool.query(
        `INSERT INTO metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level)
         SELECT 'old-app', 'rps', now() - make_interval(days => $1) + make_interval(secs => g), g, '{}', 'req/s', 'instance' FROM generate_series(1, 500) g`,
        [20 + round],
      );
      await db.pool.query(
        `INSERT INTO events (event_type, event_category, app_name, message, severity, timestamp)
         SELECT 'health', 'application', 'old-app', 'old', 'info', now() - make_interval(days => $1) + make_interval(secs => g) FROM generate_series(1, 200) g`,
        [40 + round],
      );
      await sleep(1500);
      const archived = await runJob('archive', { older_than: '14d' });
      await sleep(1500);
      const retention = await runJob('retention', {});
      dropped += Number(archived.rowsAffected ?? 0) + Number(retention.rowsAffected ?? 0);
    }
    const old = await db.pool.query<{ m: number; e: number }>(
      `SELECT (SELECT count(*) FROM metrics WHERE app_name = 'old-app')::int AS m, (SELECT count(*) FROM events WHERE app_name = 'old-app' AND message = 'old')::int AS e`,
    );
    assert.deepEqual(old.rows[0], { m: 0, e: 0 }, 'the old partitions were archived or dropped');
    const files = await readdir(archiveDir, { recursive: true });
    assert.ok(files.some((f) => String(f).endsWith('.parquet')), `archive files written: ${files.join(', ')}`);
    await sleep(3000);
    await finish('retention + archive jobs', db, topics, load, [w], { rounds: String(P.schedulerRounds), archiveFiles: String(files.filter((f) => String(f).endsWith('.parquet')).length), jobRows: String(dropped) });
  } finally {
    await rm(archiveDir, { recursive: true, force: true });
  }
});
