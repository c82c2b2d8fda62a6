// The decode stage: regressions found by the property tests (test/reliability/properties.test.ts),
// the codes of bytes that are not UTF-8 or not JSON, and a run of messages decoded into a Chunk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, decodeChunk, decodeLifecycle, decodeStats } from '../../../src/ingest/decode/decode.ts';

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

test('bytes that are not UTF-8 are E_UTF8; UTF-8 that is not JSON is E_JSON', () => {
  for (const bytes of [[0x7b, 0xff, 0xfe, 0x7d], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const d = decodeStats(Buffer.from(bytes), limits);
    assert.ok(!d.ok);
    assert.equal(d.error.code, 'E_UTF8', Buffer.from(bytes).toString('hex'));
  }
  const json = decodeStats(Buffer.from('{"v":1,'), limits);
  assert.ok(!json.ok);
  assert.equal(json.error.code, 'E_JSON');
});

test('a run of messages becomes a Chunk of its topic-partition, from the stored offset to one past the last', () => {
  const value = (rps: number) => Buffer.from(JSON.stringify({ v: 1, app: 'a', container_id: 'c', ts: now, rps }));
  const messages = [
    { offset: '11', key: null, value: value(1), headers: {} },
    { offset: '12', key: null, value: null, headers: {} },
    { offset: '13', key: null, value: Buffer.from('nope'), headers: {} },
  ];
  const chunk = decodeChunk({ kind: 'stats', topic: 't', partition: 3 }, 10n, messages, limits);
  assert.deepEqual([chunk.kind, chunk.topic, chunk.partition, chunk.from, chunk.to], ['stats', 't', 3, 10n, 14n]);
  assert.deepEqual(
    chunk.items.map((i) => [i.offset, i.stats?.rps, i.tombstone, i.rejected?.code]),
    [
      [11n, 1, undefined, undefined],
      [12n, undefined, true, undefined],
      [13n, undefined, undefined, 'E_JSON'],
    ],
  );
  assert.equal(decode('lifecycle', messages[0]!, limits).rejected?.code, 'E_SCHEMA', 'a stats message is not a lifecycle message');
});
