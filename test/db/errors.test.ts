// PostgreSQL errors classified once (src/db/errors.ts): the kind, the stable code and whether a
// retry can help, by SQLSTATE; lock contention; when a connection is not to be trusted again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyDbError, connectionSuspect, DbError, isCatalogRace, isLockContention } from '../../src/db/errors.ts';

const pgError = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

test('a row at fault (class 22 or 23) is E_DB_REJECTED and not retryable', () => {
  for (const state of ['22003', '22P02', '23505', '23514']) {
    const e = classifyDbError(pgError(state));
    assert.equal(e.kind, 'row', state);
    assert.equal(e.code, 'E_DB_REJECTED');
    assert.equal(e.retryable, false);
    assert.equal(e.sqlState, state);
  }
});

test('a missing day partition is retryable, told apart from other check violations by its message', () => {
  const e = classifyDbError(pgError('23514', 'no partition of relation "metrics" found for row'));
  assert.equal(e.kind, 'missing-partition');
  assert.equal(e.code, 'E_DB_UNAVAILABLE');
  assert.equal(e.retryable, true);
});

test('connection loss, shutdown, serialization, lock timeouts and errors without SQLSTATE are transient', () => {
  for (const err of [pgError('08006'), pgError('57P01'), pgError('40001'), pgError('55P03'), new Error('Connection terminated unexpectedly'), 'not even an Error']) {
    const e = classifyDbError(err);
    assert.equal(e.kind, 'transient');
    assert.equal(e.code, 'E_DB_UNAVAILABLE');
    assert.equal(e.retryable, true);
    assert.equal(e.cause, err);
  }
});

test('a DbError is classified once: classifying it again returns it', () => {
  const e = classifyDbError(pgError('23505'));
  assert.ok(e instanceof DbError);
  assert.equal(classifyDbError(e), e);
});

test('lock contention is a lock timeout (55P03) or a deadlock (40P01), raw or classified', () => {
  assert.equal(isLockContention(pgError('55P03')), true);
  assert.equal(isLockContention(pgError('40P01')), true);
  assert.equal(isLockContention(classifyDbError(pgError('55P03'))), true);
  assert.equal(isLockContention(pgError('40001')), false);
  assert.equal(isLockContention(new Error('timeout')), false);
});

test('a lost race to create the same table is 23505, 42710 or 42P07, raw or classified; nothing else', () => {
  for (const state of ['23505', '42710', '42P07']) assert.equal(isCatalogRace(pgError(state)), true, state);
  assert.equal(isCatalogRace(classifyDbError(pgError('42710'))), true);
  assert.equal(isCatalogRace(pgError('55P03')), false);
  assert.equal(isCatalogRace(new Error('exists')), false);
});

test('a connection is suspect after an error with no code at all, not after a server or socket error', () => {
  assert.equal(connectionSuspect(new Error('Connection terminated')), true);
  assert.equal(connectionSuspect(pgError('23505')), false);
  assert.equal(connectionSuspect(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), false);
});
