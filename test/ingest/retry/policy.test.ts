// The retry policy without a broker or a database: what it decides for each kind of error, the
// capped backoff, the retry loop with its hooks (waits, re-reads, forgetting partitions), and the
// paused gauge that follows the chunks waiting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DbError, classifyDbError } from '../../../src/db/errors.ts';
import { IngestError } from '../../../src/errors.ts';
import { Backpressure, RetryPolicy, retryDecision, type RetryHooks } from '../../../src/ingest/retry/policy.ts';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('PostgreSQL errors are classified once: row faults are not retryable, a missing partition and a lost connection are', () => {
  const row = classifyDbError(pgError('22P02', 'invalid input syntax for type integer: "x"'));
  assert.equal(row.kind, 'row');
  assert.equal(row.retryable, false);
  assert.equal(classifyDbError(pgError('23505', 'duplicate key')).kind, 'row');
  const missing = classifyDbError(pgError('23514', 'no partition of relation "metrics" found for row'));
  assert.deepEqual([missing.kind, missing.retryable], ['missing-partition', true]);
  // Any other check violation is a row's fault, not a missing partition.
  assert.equal(classifyDbError(pgError('23514', 'new row for relation "instances" violates check constraint')).kind, 'row');
  for (const transient of [pgError('08006', 'connection failure'), pgError('57P01', 'terminating connection'), pgError('40P01', 'deadlock'), new Error('Connection terminated unexpectedly'), Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })]) {
    const e = classifyDbError(transient);
    assert.deepEqual([e.kind, e.retryable], ['transient', true], transient.message);
  }
  assert.equal(classifyDbError(row), row, 'a classified error is returned as it is');
  assert.ok(row instanceof DbError && row.cause instanceof Error);
});

test('the retry policy: fenced stops, a missing partition forgets the ensured days, backoff doubles from 250 ms up to the cap', () => {
  assert.deepEqual(retryDecision(new IngestError('E_FENCED', 'lost'), 0, 30_000), { kind: 'fenced' });
  const missing = retryDecision(pgError('23514', 'no partition of relation "events" found for row'), 0, 30_000);
  assert.deepEqual(missing, { kind: 'retry', backoffMs: 250, forgetPartitions: true, retryable: true });
  const backoffs = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => {
    const d = retryDecision(pgError('08006', 'gone'), a, 30_000);
    assert.equal(d.kind, 'retry');
    return d.kind === 'retry' ? d.backoffMs : -1;
  });
  assert.deepEqual(backoffs, [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  const unavailable = retryDecision(new IngestError('E_DB_UNAVAILABLE', 'down', true), 1, 30_000);
  assert.deepEqual(unavailable, { kind: 'retry', backoffMs: 500, forgetPartitions: false, retryable: true });
});

test('the paused gauge is 1 while any chunk waits and 0 when the last one is through', () => {
  const seen: boolean[] = [];
  const bp = new Backpressure((p) => seen.push(p));
  bp.enter();
  bp.enter();
  bp.leave();
  assert.deepEqual(seen, [true]);
  bp.leave();
  bp.leave(); // an extra leave does not go below zero
  assert.deepEqual(seen, [true, false]);
  bp.enter();
  assert.deepEqual(seen, [true, false, true]);
});

/** Hooks that record what the policy asked for; `wait` answers from `waits` (true when empty). */
function recorder(opts: { waits?: boolean[]; owned?: boolean[] } = {}) {
  const log = { waited: [] as number[], forgot: 0, failed: [] as { attempt: number; retryable: boolean }[], reread: 0 };
  const hooks: RetryHooks = {
    wait: async (ms) => {
      log.waited.push(ms);
      return opts.waits?.shift() ?? true;
    },
    stillOwned: async () => {
      log.reread++;
      return opts.owned?.shift() ?? true;
    },
    forgetPartitions: () => void log.forgot++,
    failed: (_err, attempt, d) => void log.failed.push({ attempt, retryable: d.retryable }),
  };
  return { log, hooks };
}

/** An attempt that throws `errors` in turn, then resolves with the number of calls. */
function failing(...errors: unknown[]) {
  let calls = 0;
  return async () => {
    calls++;
    if (errors.length > 0) throw errors.shift();
    return calls;
  };
}

function policy(maxBackoffMs = 30_000) {
  const gauge: boolean[] = [];
  const backpressure = new Backpressure((p) => gauge.push(p));
  return { gauge, backpressure, retry: new RetryPolicy(maxBackoffMs, backpressure) };
}

test('a fenced write stops at once: no wait, no pause, the E_FENCED error handed back', async () => {
  const { gauge, retry } = policy();
  const { log, hooks } = recorder();
  const fenced = new IngestError('E_FENCED', 'lost');
  assert.deepEqual(await retry.run(failing(fenced), hooks), { kind: 'fenced', err: fenced });
  assert.deepEqual([log.waited, log.failed, gauge], [[], [], []]);
});

test('retryable failures back off doubling up to the cap, pause once, and resume when the write succeeds', async () => {
  const { gauge, backpressure, retry } = policy(700);
  const { log, hooks } = recorder();
  const gone = () => pgError('08006', 'connection failure');
  const outcome = await retry.run(failing(gone(), gone(), gone(), gone()), hooks);
  assert.deepEqual(outcome, { kind: 'done', value: 5, attempts: 5 });
  assert.deepEqual(log.waited, [250, 500, 700, 700]);
  assert.deepEqual(log.failed, [0, 1, 2, 3].map((attempt) => ({ attempt, retryable: true })));
  assert.equal(log.reread, 4, 'the stored offset is re-read after each wait');
  assert.equal(log.forgot, 0);
  assert.deepEqual(gauge, [true, false]);
  assert.equal(backpressure.size, 0);
});

test('a missing partition forgets the ensured days before the retry; other errors do not', async () => {
  const { retry } = policy();
  const { log, hooks } = recorder();
  const missing = pgError('23514', 'no partition of relation "metrics" found for row');
  const outcome = await retry.run(failing(missing, pgError('57P01', 'terminating connection'), missing), hooks);
  assert.equal(outcome.kind, 'done');
  assert.equal(log.forgot, 2);
});

test('an error that says it is not retryable, and that no row explains, is still retried (the chunk is kept) and reported as such', async () => {
  const { retry } = policy();
  const { log, hooks } = recorder();
  const outcome = await retry.run(failing(new IngestError('E_INTERNAL', 'a bug'), pgError('42P01', 'relation does not exist')), hooks);
  assert.deepEqual(outcome, { kind: 'done', value: 3, attempts: 3 });
  assert.deepEqual(log.failed, [
    { attempt: 0, retryable: false },
    { attempt: 1, retryable: true },
  ]);
});

test('giving up while waiting, or finding the offset moved, ends the wait and leaves the backpressure balanced', async () => {
  const { gauge, backpressure, retry } = policy();
  const stop = recorder({ waits: [true, false] });
  assert.deepEqual(await retry.run(failing(pgError('08006', 'x'), pgError('08006', 'x'), pgError('08006', 'x')), stop.hooks), { kind: 'stopped' });
  assert.deepEqual(stop.log.waited, [250, 500]);
  assert.equal(backpressure.size, 0);
  const moved = recorder({ owned: [false] });
  assert.deepEqual(await retry.run(failing(pgError('08006', 'x')), moved.hooks), { kind: 'fenced' });
  assert.equal(backpressure.size, 0);
  const broken = recorder();
  broken.hooks.wait = async () => {
    throw new Error('heartbeat exploded');
  };
  await assert.rejects(retry.run(failing(pgError('08006', 'x')), broken.hooks), /heartbeat exploded/);
  assert.equal(backpressure.size, 0);
  assert.deepEqual(gauge, [true, false, true, false, true, false]);
});

test('the paused gauge stays 1 until the last of several waiting chunks is through', async () => {
  const { gauge, backpressure, retry } = policy();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = recorder();
  slow.hooks.wait = async () => {
    await gate;
    return true;
  };
  const a = retry.run(failing(pgError('08006', 'x')), slow.hooks);
  const b = retry.run(failing(pgError('08006', 'x')), recorder().hooks);
  assert.equal((await b).kind, 'done');
  assert.deepEqual(gauge, [true], 'still paused: one chunk waits');
  assert.equal(backpressure.size, 1);
  release();
  assert.equal((await a).kind, 'done');
  assert.deepEqual(gauge, [true, false]);
});
