// The stack lifecycle on its own temporary root, so the shared stack is never touched.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { stackDown, stackStatus, stackUp } from '../../tools/stack/index.ts';
import { newClusterId } from '../../tools/stack/kafka.ts';
import { portAnswers, waitFor } from '../../tools/stack/process.ts';

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
};
const portOf = (address: string) => Number(new URL(address.includes('://') ? address : `tcp://${address}`).port);

test('KRaft cluster ids never start with a dash (the storage tool would read one as an option)', () => {
  const ids = Array.from({ length: 5000 }, newClusterId);
  assert.ok(ids.every((id) => /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/.test(id)), 'a 22-character base64url id not starting with -');
  assert.equal(new Set(ids).size, ids.length);
});

test('addresses given to stackUp are returned as they are and nothing is started', async () => {
  const root = await mkdtemp(join(tmpdir(), 'orchestry-stack-'));
  try {
    const up = await stackUp({ root, kafkaBrokers: '10.0.0.1:9092', databaseUrl: 'postgres://u@db.example/orchestry' });
    assert.deepEqual(up, {
      kafkaBrokers: '10.0.0.1:9092',
      databaseUrl: 'postgres://u@db.example/orchestry',
      started: { kafka: false, postgres: false },
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('stackUp twice reuses the running stack, and stackDown leaves no process behind', { timeout: 300_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'orchestry-stack-'));
  try {
    const first = await stackUp({ root });
    assert.deepEqual(first.started, { kafka: true, postgres: true });

    const t0 = performance.now();
    const second = await stackUp({ root });
    const secondMs = performance.now() - t0;
    assert.equal(second.kafkaBrokers, first.kafkaBrokers);
    assert.equal(second.databaseUrl, first.databaseUrl);
    assert.deepEqual(second.started, { kafka: false, postgres: false });
    assert.ok(secondMs < 3000, `second stackUp took ${Math.round(secondMs)} ms`);

    const client = new pg.Client({ connectionString: first.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    await client.end();
    assert.equal(rows[0]?.db, 'orchestry');

    const status = await stackStatus({ root });
    assert.equal(status.kafka.running, true);
    assert.equal(status.postgres.running, true);
    const pids = [status.kafka.pid, status.postgres.pid].filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 2);

    await stackDown({ root });
    assert.ok(await waitFor(() => pids.every(gone), 5000), `pids still alive: ${pids.filter((p) => !gone(p))}`);
    assert.equal(await portAnswers(portOf(first.kafkaBrokers)), false);
    assert.equal(await portAnswers(portOf(first.databaseUrl)), false);
    const after = await stackStatus({ root });
    assert.equal(after.kafka.running || after.postgres.running, false);
  } finally {
    await stackDown({ root, purge: true }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
});
