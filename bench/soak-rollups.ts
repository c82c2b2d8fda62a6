// Soak: `node --import tsx bench/soak-rollups.ts --minutes N` (default 30). 3,000 stats messages/s
// (24k metric rows/s) into a worker (child process) with the scheduler on; logs every rollups run's
// duration and rows read, the newest complete 1 m window's lag behind the clock, and at the end
// how far the worker is behind the producer. Prints YES/NO for: every run < 10 s and none failed,
// window lag <= 2 min, worker ends < 5 s behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDatabase, committedMessages } from './db.ts';
import { appName, benchKafka, containerId, createTopics, rng, sampleJson } from './load.ts';
import { withStack } from './stack.ts';
import { repo } from '../tools/repo.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' }, rate: { type: 'string', default: '3000' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APPS = 50;
const CONTAINERS = 20;
const PARTITIONS = 6;

await withStack(log, async () => {
  const db = await benchDatabase();
  const id = randomBytes(4).toString('hex');
  const topics = { stats: `soak-${id}.stats`, lifecycle: `soak-${id}.lifecycle`, dlq: `soak-${id}.dlq` };
  await createTopics(Object.values(topics), PARTITIONS);
  const worker = spawn(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), 'run'], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, DATABASE_URL: db.url, KAFKA_TOPIC_STATS: topics.stats, KAFKA_TOPIC_LIFECYCLE: topics.lifecycle, KAFKA_TOPIC_DLQ: topics.dlq,
      KAFKA_GROUP_ID: `soak-${id}`, HTTP_PORT: '0', SCHEDULER_ENABLED: 'true', LOG_LEVEL: 'warn',
    },
  });
  // A failure below must not leave the worker running.
  process.once('exit', () => worker.kill('SIGKILL'));
  const producer = benchKafka('orchestry-soak').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const r = rng(42);
  let produced = 0;
  let stop = false;
  // Every 100 ms, rate/10 samples, round-robin over 1,000 containers, stamped with the send time.
  const produceLoop = (async () => {
    for (let tick = 0; !stop; tick++) {
      const t0 = Date.now();
      const n = rate / 10;
      const messages = Array.from({ length: n }, (_, i) => {
        const k = (tick * n + i) % (APPS * CONTAINERS);
        const a = Math.floor(k / CONTAINERS);
        return { key: containerId(a, k % CONTAINERS), value: JSON.stringify(sampleJson(appName(a), containerId(a, k % CONTAINERS), k % CONTAINERS, t0, r)) };
      });
      await producer.send({ topic: topics.stats, acks: -1, messages });
      produced += n;
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  })();

  const seen = new Set<number>();
  const runs: { ms: number; status: string; rowsRead: number }[] = [];
  let worstWindowLagS = 0;
  const end = Date.now() + minutes * 60_000;
  while (Date.now() < end) {
    await sleep(10_000);
    const { rows } = await db.pool.query<{ id: number; status: string; ms: number; progress: { rowsRead?: number; invalidated?: number } | null }>(
      `SELECT id, status, extract(epoch FROM finished_at - started_at) * 1000 AS ms, progress FROM job_runs
        WHERE job = 'rollups' AND status IN ('succeeded', 'failed') ORDER BY id`,
    );
    for (const run of rows.filter((x) => !seen.has(x.id))) {
      seen.add(run.id);
      runs.push({ ms: Number(run.ms), status: run.status, rowsRead: run.progress?.rowsRead ?? 0 });
      log(`rollups run ${run.id}: ${run.status} in ${(Number(run.ms) / 1000).toFixed(2)} s, ${run.progress?.rowsRead ?? 0} rows read, ${run.progress?.invalidated ?? 0} invalidations`);
    }
    const { rows: lag } = await db.pool.query<{ s: number | null }>(
      `SELECT extract(epoch FROM now() - (max(bucket) + interval '1 minute')) AS s FROM metric_rollups WHERE width = '1m'`,
    );
    const lagS = lag[0]?.s == null ? null : Number(lag[0].s);
    // The first windows appear a minute or two after the start; count the lag once there is one.
    if (lagS !== null) worstWindowLagS = Math.max(worstWindowLagS, lagS);
    log(`produced ${produced} messages; newest complete 1 m window ${lagS === null ? 'none yet' : `${lagS.toFixed(0)} s behind the clock`}`);
  }
  stop = true;
  await produceLoop;
  const stoppedAt = Date.now();
  while ((await committedMessages(db.pool, topics.stats)) < produced && Date.now() - stoppedAt < 120_000) await sleep(100);
  const behindS = (Date.now() - stoppedAt) / 1000;
  await producer.disconnect();
  worker.kill('SIGTERM');
  await new Promise((res) => worker.once('exit', res));
  await db.drop();

  const slowest = Math.max(0, ...runs.map((x) => x.ms)) / 1000;
  const failed = runs.filter((x) => x.status === 'failed').length;
  const yes = (ok: boolean) => (ok ? 'YES' : 'NO');
  log(`${runs.length} rollups runs, slowest ${slowest.toFixed(2)} s, ${failed} failed; rows read per run: ${runs.map((x) => x.rowsRead).join(' ')}`);
  log(`${yes(runs.length > 0 && slowest < 10 && failed === 0)}: every rollups run < 10 s and none failed`);
  log(`${yes(runs.length > 0 && worstWindowLagS <= 120)}: newest complete 1 m window <= 2 min behind (worst ${worstWindowLagS.toFixed(0)} s)`);
  log(`${yes(behindS < 5)}: worker ends < 5 s behind the producer (${behindS.toFixed(1)} s)`);
});
