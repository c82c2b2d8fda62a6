// The poison corpus: kinds of bad messages, each with the topic it is sent to and the DLQ error
// code it must get. Values are bytes as a producer would send them.
import type { ErrorCode } from '../../src/errors.ts';

export type Topic = 'stats' | 'lifecycle';
export interface Poison {
  kind: string;
  topic: Topic;
  code: ErrorCode;
  value: Buffer;
}

const APP = 'poison-app';
const C = 'c-poison';
const DAY = 86_400_000;

function nested(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

/** Builds the corpus relative to `now` (epoch ms). */
export function poisonCorpus(now: number): Poison[] {
  const stats = (fields: Record<string, unknown> = {}) => ({ v: 1, app: APP, container_id: C, ts: now - 1000, cpu_percent: 1, ...fields });
  const life = (type: string, fields: Record<string, unknown> = {}) => ({ v: 1, type, app: APP, ts: now - 1000, container_id: C, ...fields });
  const j = (o: unknown) => Buffer.from(JSON.stringify(o));
  const s = (text: string) => Buffer.from(text, 'utf8');
  const b = (bytes: number[]) => Buffer.from(bytes);
  const withTs = (ts: unknown) => {
    const o: Record<string, unknown> = stats();
    o.ts = ts;
    return j(o);
  };
  const without = (key: string) => {
    const o: Record<string, unknown> = stats();
    delete o[key];
    return j(o);
  };
  const list: [string, Topic, ErrorCode, Buffer][] = [
    // Not JSON / not UTF-8
    ['truncated JSON', 'stats', 'E_JSON', s('{"v":1,"app":')],
    ['invalid UTF-8 (0xFF 0xFE)', 'stats', 'E_UTF8', b([0x7b, 0xff, 0xfe, 0x7d])],
    ['overlong UTF-8 encoding of "/"', 'stats', 'E_UTF8', Buffer.concat([s('{"v":1,"app":"'), b([0xc0, 0xaf]), s('"}')])],
    ['UTF-8-encoded lone surrogate (CESU)', 'stats', 'E_UTF8', Buffer.concat([s('{"v":1,"app":"'), b([0xed, 0xa0, 0x80]), s('"}')])],
    ['truncated multi-byte UTF-8 sequence', 'stats', 'E_UTF8', Buffer.concat([s('{"v":1,"app":"'), b([0xe2, 0x82]), s('"}')])],
    ['empty value (zero bytes)', 'stats', 'E_JSON', Buffer.alloc(0)],
    ['plain text', 'stats', 'E_JSON', s('hello, world')],
    ['NaN as a bare number', 'stats', 'E_JSON', s(`{"v":1,"app":"${APP}","container_id":"${C}","ts":${now},"cpu_percent":NaN}`)],
    ['Infinity as a bare number', 'stats', 'E_JSON', s(`{"v":1,"app":"${APP}","container_id":"${C}","ts":${now},"cpu_percent":Infinity}`)],
    ['-Infinity as a bare number', 'stats', 'E_JSON', s(`{"v":1,"app":"${APP}","container_id":"${C}","ts":${now},"rps":-Infinity}`)],
    ['trailing comma', 'stats', 'E_JSON', s(`{"v":1,"app":"${APP}",}`)],
    ['single-quoted JSON', 'stats', 'E_JSON', s(`{'v':1}`)],
    ['two JSON documents', 'stats', 'E_JSON', s('{"v":1}{"v":1}')],
    ['raw NUL byte in the bytes', 'stats', 'E_JSON', Buffer.concat([s('{"v":1,"app":"a'), b([0]), s('b"}')])],
    // JSON but not an object / not v1
    ['JSON array', 'stats', 'E_SCHEMA', s('[1,2,3]')],
    ['JSON string', 'stats', 'E_SCHEMA', s('"a string"')],
    ['JSON null', 'stats', 'E_SCHEMA', s('null')],
    ['JSON number', 'stats', 'E_SCHEMA', s('42')],
    ['deeply nested arrays (100,000 levels)', 'stats', 'E_SCHEMA', s('['.repeat(100_000) + ']'.repeat(100_000))],
    ['missing v', 'stats', 'E_SCHEMA', without('v')],
    ['v = 2', 'stats', 'E_VERSION', j(stats({ v: 2 }))],
    ['v = "1" (string)', 'stats', 'E_VERSION', j(stats({ v: '1' }))],
    ['v = 0', 'stats', 'E_VERSION', j(stats({ v: 0 }))],
    ['v = 1.5', 'stats', 'E_VERSION', j(stats({ v: 1.5 }))],
    // Missing or mistyped fields
    ['missing app', 'stats', 'E_SCHEMA', without('app')],
    ['missing container_id', 'stats', 'E_SCHEMA', without('container_id')],
    ['missing ts', 'stats', 'E_SCHEMA', without('ts')],
    ['app is a number', 'stats', 'E_SCHEMA', j(stats({ app: 7 }))],
    ['app is empty', 'stats', 'E_SCHEMA', j(stats({ app: '' }))],
    ['cpu_percent is a word', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: 'high' }))],
    ['cpu_percent is the string "NaN"', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: 'NaN' }))],
    ['cpu_percent is the string "Infinity"', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: 'Infinity' }))],
    ['cpu_percent is a numeric string', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: '12.5' }))],
    ['cpu_percent is a boolean', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: true }))],
    ['cpu_percent is null', 'stats', 'E_SCHEMA', j(stats({ cpu_percent: null }))],
    ['replica_index is fractional', 'stats', 'E_SCHEMA', j(stats({ replica_index: 1.5 }))],
    ['labels is an array', 'stats', 'E_SCHEMA', j(stats({ labels: ['a'] }))],
    ['label value is a number', 'stats', 'E_SCHEMA', j(stats({ labels: { zone: 1 } }))],
    ['label value is deeply nested JSON', 'stats', 'E_SCHEMA', j(stats({ labels: { zone: nested(200) } }))],
    // Out of range (the seed's types and check constraints)
    ['negative cpu_percent', 'stats', 'E_OUT_OF_RANGE', j(stats({ cpu_percent: -1 }))],
    ['negative zero-adjacent rps (-1e-9)', 'stats', 'E_OUT_OF_RANGE', j(stats({ rps: -1e-9 }))],
    ['memory_percent 101 (CHECK <= 100)', 'stats', 'E_OUT_OF_RANGE', j(stats({ memory_percent: 101 }))],
    ['rps beyond REAL (1e39)', 'stats', 'E_OUT_OF_RANGE', j(stats({ rps: 1e39 }))],
    ['latency 1e308', 'stats', 'E_OUT_OF_RANGE', j(stats({ latency_p99: 1e308 }))],
    ['memory_bytes 2^60 (beyond safe integers)', 'stats', 'E_OUT_OF_RANGE', j(stats({ memory_bytes: 2 ** 60 }))],
    ['replica_index -1', 'stats', 'E_OUT_OF_RANGE', j(stats({ replica_index: -1 }))],
    ['replica_index 2^31 (beyond INTEGER)', 'stats', 'E_OUT_OF_RANGE', j(stats({ replica_index: 2 ** 31 }))],
    ['10,000 labels', 'stats', 'E_OUT_OF_RANGE', j(stats({ labels: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])) }))],
    ['label value of 2,000 characters', 'stats', 'E_OUT_OF_RANGE', j(stats({ labels: { big: 'x'.repeat(2000) } }))],
    ['app of 254 characters (VARCHAR(253))', 'stats', 'E_OUT_OF_RANGE', j(stats({ app: 'a'.repeat(254) }))],
    ['container_id of 129 characters', 'stats', 'E_OUT_OF_RANGE', j(stats({ container_id: 'c'.repeat(129) }))],
    // NUL (PostgreSQL text cannot hold U+0000)
    ['NUL in app', 'stats', 'E_NUL_BYTE', j(stats({ app: 'a\u0000b' }))],
    ['NUL in a label value', 'stats', 'E_NUL_BYTE', j(stats({ labels: { k: 'v\u0000' } }))],
    // Timestamps
    ['ts = 0 (1970)', 'stats', 'E_OUT_OF_RANGE', withTs(0)],
    ['ts 40 days ago (past retention)', 'stats', 'E_OUT_OF_RANGE', withTs(now - 40 * DAY)],
    ['ts one day ahead (past the skew)', 'stats', 'E_OUT_OF_RANGE', withTs(new Date(now + DAY).toISOString())],
    ['ts 9999-12-31', 'stats', 'E_OUT_OF_RANGE', withTs('9999-12-31T23:59:59Z')],
    ['ts year 0001', 'stats', 'E_OUT_OF_RANGE', withTs('0001-01-01T00:00:00Z')],
    ['ts negative epoch', 'stats', 'E_OUT_OF_RANGE', withTs(-1)],
    ['ts beyond year 9999 in epoch ms', 'stats', 'E_OUT_OF_RANGE', withTs(1e16)],
    ['ts fractional epoch ms', 'stats', 'E_SCHEMA', withTs(now + 0.5)],
    ['ts as words', 'stats', 'E_SCHEMA', withTs('yesterday')],
    ['ts date only', 'stats', 'E_SCHEMA', withTs(new Date(now).toISOString().slice(0, 10))],
    ['ts month 13', 'stats', 'E_SCHEMA', withTs('2026-13-01T00:00:00Z')],
    ['ts as epoch seconds string', 'stats', 'E_SCHEMA', withTs(String(Math.floor(now / 1000)))],
    // Too large
    ['a 10 MB value', 'stats', 'E_TOO_LARGE', j(stats({ labels: { big: 'x'.repeat(1000) }, pad: 'p'.repeat(10 * 1024 * 1024) }))],
    // Lifecycle
    ['unknown lifecycle type', 'lifecycle', 'E_SCHEMA', j(life('container.exploded'))],
    ['missing lifecycle type', 'lifecycle', 'E_SCHEMA', j({ v: 1, app: APP, ts: now })],
    ['lifecycle v = 2', 'lifecycle', 'E_VERSION', j({ ...life('container.stopped'), v: 2 })],
    ['container.started port 0', 'lifecycle', 'E_OUT_OF_RANGE', j(life('container.started', { container_name: 'n', replica_index: 0, ip: '10.0.0.1', port: 0 }))],
    ['container.started port 70000', 'lifecycle', 'E_OUT_OF_RANGE', j(life('container.started', { container_name: 'n', replica_index: 0, ip: '10.0.0.1', port: 70000 }))],
    ['container.started bad IP', 'lifecycle', 'E_SCHEMA', j(life('container.started', { container_name: 'n', replica_index: 0, ip: '999.1.1.1', port: 80 }))],
    ['container.started without container_id', 'lifecycle', 'E_SCHEMA', j({ v: 1, type: 'container.started', app: APP, ts: now, container_name: 'n', replica_index: 0, ip: '10.0.0.1', port: 80 })],
    ['app.status unknown status', 'lifecycle', 'E_SCHEMA', j(life('app.status', { status: 'exploded' }))],
    ['container.health unknown health', 'lifecycle', 'E_SCHEMA', j(life('container.health', { health_status: 'dead' }))],
    ['app.scaled to -1', 'lifecycle', 'E_OUT_OF_RANGE', j(life('app.scaled', { from: 1, to: -1 }))],
    ['app.registered spec nested 40 deep', 'lifecycle', 'E_SCHEMA', j(life('app.registered', { spec: nested(40) }))],
    ['app.registered spec is a string', 'lifecycle', 'E_SCHEMA', j(life('app.registered', { spec: 'nginx' }))],
    ['app.registered NUL deep in spec', 'lifecycle', 'E_NUL_BYTE', j(life('app.registered', { spec: { spec: { image: 'ng\u0000inx' } } }))],
    ['source of 51 characters (VARCHAR(50))', 'lifecycle', 'E_OUT_OF_RANGE', j(life('container.stopped', { source: 's'.repeat(51) }))],
    ['lifecycle ts far in the future', 'lifecycle', 'E_OUT_OF_RANGE', j(life('container.stopped', { ts: '2999-01-01T00:00:00Z' }))],
  ];
  return list.map(([kind, topic, code, value]) => ({ kind, topic, code, value }));
}

/** Known-bad inputs the decoder accepts today (bugs; see the report). Not part of the passing corpus. */
export function knownGaps(now: number): Poison[] {
  const o = (ts: string) => Buffer.from(JSON.stringify({ v: 1, app: APP, container_id: C, ts, cpu_percent: 1 }));
  const y = new Date(now).getUTCFullYear();
  const j = (o: unknown) => Buffer.from(JSON.stringify(o));
  const stats = (labels: Record<string, string>) => ({ v: 1, app: APP, container_id: C, ts: now - 1000, cpu_percent: 1, labels });
  return [
    // zod reports a bad record key as 'invalid_key' and nests the real issue: its code is lost.
    { kind: 'label key of 200 characters', topic: 'stats', code: 'E_OUT_OF_RANGE', value: j(stats({ ['k'.repeat(200)]: 'v' })) },
    { kind: 'NUL in a label key', topic: 'stats', code: 'E_NUL_BYTE', value: j(stats({ 'k\u0000': 'v' })) },
    // V8's JSON.parse error message quotes the value: a NUL in it reaches ingest_dead_letters.error_message,
    // PostgreSQL refuses it (22021) and the partition retries forever.
    { kind: 'a value that is one NUL byte', topic: 'stats', code: 'E_JSON', value: Buffer.from([0]) },
    // V8's Date.parse rolls 30 February over to 2 March; PostgreSQL rejects the string (22008).
    { kind: 'ts 30 February', topic: 'stats', code: 'E_SCHEMA', value: o(`${y}-02-30T00:00:00Z`) },
  ];
}
