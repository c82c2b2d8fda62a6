// Decoder regressions found by the property tests (test/reliability/properties.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeLifecycle, decodeStats } from '../../src/ingest/decode.ts';

const now = Date.now();
const limits = { messageMaxBytes: 1_000_000, minTsMs: now - 86_400_000, maxTsMs: now + 60_000 };

test('a label or spec key named __proto__ is kept as an ordinary key, as it was sent', () => {
  const stats = decodeStats(Buffer.from(`{"v":1,"app":"a","container_id":"c","ts":${now},"cpu_percent":1,"labels":{"__proto__":"\\t","k":"v"}}`), limits);
  assert.ok(stats.ok);
  assert.equal(JSON.stringify(stats.value.labels), '{"__proto__":"\\t","k":"v"}');
  assert.equal(Object.getPrototypeOf(stats.value.labels), Object.prototype, 'the prototype is untouched');
  const life = decodeLifecycle(Buffer.from(`{"v":1,"type":"app.registered","app":"a","ts":${now},"spec":{"__proto__":{"x":1},"spec":{"image":"i"}}}`), limits);
  assert.ok(life.ok && life.value.type === 'app.registered');
  assert.equal(JSON.stringify(life.value.spec), '{"__proto__":{"x":1},"spec":{"image":"i"}}');
});

test('a bad label value is still refused even when the key is __proto__', () => {
  const bad = decodeStats(Buffer.from(`{"v":1,"app":"a","container_id":"c","ts":${now},"cpu_percent":1,"labels":{"__proto__":"nul\\u0000"}}`), limits);
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, 'E_NUL_BYTE');
});
