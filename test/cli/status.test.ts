// `orchestry-ingest status` through the real CLI against a running worker: a healthy state exits 0
// with every section filled from what really happened; each kind of trouble exits 1 and says why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';
import { produce, testTopics, type TestTopics } from '../helpers/kafka.ts';
import { registered, stats } from '../helpers/messages.ts';
import { freePort } from '../helpers/prometheus.ts';
import { ownStack, type OwnStack } from '../helpers/stack.ts';
import { spawnWorker, startTestWorker, waitUntil, workerEnv, type ChildWorker } from '../helpers/worker.ts';
import type { RunningWorker } from '../../src/worker.ts';
import type { StatusReport } from '../../src/cli/status-report.ts';

let db: TestDatabase;
let topics: TestTopics;
let env: Record<string, string>;
let worker: RunningWorker;
let url: string;

before(async () => {
  db = await freshDatabase();
  topics = await testTopics(3);
  env = workerEnv(db.url, topics, { SCHEDULER_ENABLED: 'true', SCHEDULE_PARTITIONS: '0 0 1 1 *' });
  worker = await startTestWorker(env, { http: true });
  url = `http://127.0.0.1:${worker.httpPort}`;
});

after(async () => {
  await worker?.stop();
  await db?.drop();
});

const msgs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ key: `c${i % 9}`, value: stats('st-app', `c${i % 9}`, Date.now() - 5000, { rps: from + i }) }));

async function status(...extra: string[]): Promise<{ code: number; report: StatusReport }> {
  const r = await runCli(['status', '--json', '--worker', url, '--sample-ms', '1500', ...extra], env);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return { code: r.code, report: JSON.parse(r.stdout) as StatusReport };
}

test('a healthy worker after a known load: exit 0, members, zero lag, commits, readiness, jobs, partitions and dead letters', async () => {
  await produce(topics.lifecycle, [{ key: 'st-app', value: registered('st-app', Date.now() - 60_000) }]);
  await produce(topics.stats, [...msgs(200), ...Array.from({ length: 5 }, (_, i) => ({ key: `b${i}`, value: `not json ${i}` }))]);
  await waitUntil('205 stats messages consumed', async () => {
    const { rows } = await db.pool.query<{ n: string }>('SELECT coalesce(sum(next_offset), 0) AS n FROM ingest_offsets WHERE topic = $1', [topics.stats]);
    return Number(rows[0]!.n) === 205;
  });
  const { code, report } = await status();
  assert.deepEqual(report.attention, []);
  assert.equal(code, 0);
  assert.equal(report.group.state, 'Stable');
  assert.equal(report.group.members.length, 1);
  assert.deepEqual(
    Object.fromEntries(Object.entries(report.group.members[0]!.assignment).map(([t, ps]) => [t, [...ps].sort()])),
    { [topics.stats]: [0, 1, 2], [topics.lifecycle]: [0, 1, 2] },
  );
  const statsParts = report.partitions.filter((p) => p.topic === topics.stats);
  assert.equal(statsParts.length, 3);
  assert.equal(statsParts.reduce((s, p) => s + p.end, 0), 205);
  for (const p of statsParts) assert.deepEqual([p.lag, p.seconds, p.stored, p.growing], [0, 0, p.end, false]);
  assert.ok(report.lastCommitAt && Date.now() - Date.parse(report.lastCommitAt) < 60_000);
  assert.deepEqual(report.workers.map((w) => [w.url, w.ready, w.status]), [[url, true, 200]]);
  assert.deepEqual(report.deadLettersLastHour, [{ code: 'E_JSON', count: 5 }]);
  assert.deepEqual(report.partitionsAhead.map((t) => [t.table, t.daysAhead, t.configured]), [['metrics', 3, 3], ['events', 3, 3], ['metric_rollups', 3, 3]]);
  assert.deepEqual(report.jobs.map((j) => j.name), ['partitions', 'rollups', 'retention', 'archive', 'compress-events']);
  assert.ok(report.jobs.every((j) => j.nextAt !== null && Date.parse(j.nextAt) > Date.now() - 1000), 'every job has its next time');
  assert.equal(report.oldestDue, null);

  const human = await runCli(['status', '--worker', url, '--sample-ms', '200'], env);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`consumer group ${topics.group}: Stable, 1 member`));
  assert.match(human.stdout, /dead letters, last hour: E_JSON 5/);
  assert.match(human.stdout, /OK: nothing needs attention/);
});

test('a failed job run, a missing partition ahead, an old partition past retention and a growing lag each need attention', async () => {
  // The history of a failed run (compress-events is scheduled daily, so no run supersedes it here).
  await db.pool.query(`INSERT INTO job_runs (job, trigger, params, status, started_at, finished_at, error) VALUES ('compress-events', 'cli', '{}', 'failed', now(), now(), 'disk full')`);
  const { rows } = await db.pool.query<{ day: string }>(`SELECT to_char((now() AT TIME ZONE 'UTC')::date + 3, 'YYYYMMDD') AS day`);
  await db.pool.query(`DROP TABLE events_p${rows[0]!.day}`);
  await db.pool.query(`CREATE TABLE events_p20200101 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')`);
  worker.ingest.consumer.pause([{ topic: topics.stats }]);
  let loading = true;
  const load = (async () => {
    for (let i = 0; loading; i++) {
      await produce(topics.stats, msgs(50, 1000 + i * 50));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const { code, report } = await status('--max-behind-s', '3600');
    assert.equal(code, 1);
    const text = report.attention.join('\n');
    assert.match(text, /job compress-events: last run #\d+ failed: disk full/);
    assert.match(text, /events: 2 day\(s\) of partitions ahead, 3 configured/);
    assert.match(text, new RegExp(`${topics.stats.replace(/\./g, '\\.')}\\[\\d\\]: lag growing \\(\\d+ messages\\) and nothing stored meanwhile`));
    assert.deepEqual(report.oldestDue, { table: 'events', partition: 'events_p20200101', day: '2020-01-01' });
  } finally {
    loading = false;
    await load;
    worker.ingest.consumer.resume([{ topic: topics.stats }]);
  }
});

test('a worker whose PostgreSQL is down is named with its failed checks; an unreachable one is shown, not counted', async () => {
  // A second real worker on a PostgreSQL of its own, which is then stopped: its /readyz really answers 503.
  const own: OwnStack = await ownStack({ postgres: true });
  const shared = process.env.DATABASE_URL;
  let other: ChildWorker | undefined;
  try {
    process.env.DATABASE_URL = own.databaseUrl;
    const otherDb = await freshDatabase();
    process.env.DATABASE_URL = shared;
    const port = await freePort();
    const otherUrl = `http://127.0.0.1:${port}`;
    other = spawnWorker(workerEnv(otherDb.url, await testTopics(1), { HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' }));
    const readyz = async () => (await fetch(`${otherUrl}/readyz`).catch(() => undefined))?.status;
    await waitUntil('the other worker ready', async () => (await readyz()) === 200, 90_000);
    await own.stopPostgres();
    await waitUntil('the other worker not ready', async () => (await readyz()) === 503, 30_000);

    const r = await runCli(['status', '--json', '--sample-ms', '100', '--worker', url, '--worker', otherUrl, '--worker', 'http://127.0.0.1:1'], env);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.deepEqual(report.workers.map((w) => [w.ready, w.status, w.failed]), [[true, 200, []], [false, 503, ['database', 'migrations']], [null, null, []]]);
    assert.deepEqual(report.attention.filter((a) => a.startsWith('worker')), [`worker ${otherUrl} not ready: database, migrations`]);
  } finally {
    process.env.DATABASE_URL = shared;
    other?.child.kill('SIGKILL');
    await other?.exited;
    await own.down();
  }
});
