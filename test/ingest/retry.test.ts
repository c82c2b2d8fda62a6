// The retry policy without a broker or a database: what it decides for each kind of error, the
// capped backoff, and the paused gauge that follows the chunks waiting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DbError, classifyDbError } from '../../src/db/errors.ts';
import { IngestError } from '../../src/errors.ts';
import { Backpressure, retryDecision } from '../../src/ingest/retry.ts';

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
