// `orchestry-ingest query window`: the operator's windowed read, through the real CLI, and on the
// read replica when DATABASE_REPLICA_URL is set.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';
import { repo } from '../helpers/worker.ts';

let primary: TestDatabase;
let replica: TestDatabase;

// Three rps samples in the last minutes, in one database only.
before(async () => {
  primary = await freshDatabase();
  replica = await freshDatabase();
  await replica.pool.query(`
    INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
    SELECT 'web', 'rps', now() - make_interval(secs => g * 30), g * 10, 'instance' FROM generate_series(1, 3) g`);
});
after(async () => {
  await primary?.drop();
  await replica?.drop();
});

function queryWindow(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'orchestry-ingest.js'), 'query', 'window', '--app', 'web', '--minutes', '10'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dataLines = (stdout: string) => stdout.trim().split('\n').slice(1);

test('query window prints the window of an app from DATABASE_URL', () => {
  const r = queryWindow({ DATABASE_URL: replica.url });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0]!, /^metric_type\s+avg_value\s+min_value\s+max_value\s+p50_value\s+p95_value\s+p99_value\s+data_points$/);
  assert.deepEqual(dataLines(r.stdout).map((l) => l.split(/\s+/)), [['rps', '20.000', '10.000', '30.000', '20.000', '29.000', '29.800', '3']]);
});

test('with DATABASE_REPLICA_URL, query window reads the replica, not the primary', () => {
  const onReplica = queryWindow({ DATABASE_URL: primary.url, DATABASE_REPLICA_URL: replica.url });
  assert.equal(onReplica.status, 0, onReplica.stderr);
  assert.equal(dataLines(onReplica.stdout).length, 1, onReplica.stdout);
  const onPrimary = queryWindow({ DATABASE_URL: primary.url });
  assert.equal(onPrimary.status, 0, onPrimary.stderr);
  assert.deepEqual(dataLines(onPrimary.stdout), [], 'the primary has no samples');
});
