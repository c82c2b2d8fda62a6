// The kafkajs log adapter: which kafkajs lines an operator sees, and at what level.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import { kafkaLogCreator, type KafkaLogger } from '../../src/kafka/logs.ts';

type Line = { level: string; msg: string | undefined; obj: Record<string, unknown> };

function recorder(): { logger: KafkaLogger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }, lines };
}

const { ERROR, WARN, INFO } = kafkajs.logLevel;
const entry = (message: string, extra: Record<string, unknown> = {}) => ({ timestamp: 'x', logger: 'kafkajs', message, ...extra });

test('coordinator loading and not-available responses are debug while they last less than the threshold, then one warn', () => {
  const { logger, lines } = recorder();
  let now = 0;
  const log = kafkaLogCreator(logger, 30_000, () => now)(ERROR);
  const loading = entry('Response GroupCoordinator(key: 10, version: 2)', { error: "The coordinator is loading and hence can't process requests for this group", correlationId: 1 });
  for (now = 0; now <= 40_000; now += 5_000) log({ namespace: 'Connection', level: ERROR, label: 'ERROR', log: loading });
  log({ namespace: 'Connection', level: ERROR, label: 'ERROR', log: entry('Response FindCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available' }) });
  assert.deepEqual(
    lines.map((l) => l.level),
    ['debug', 'debug', 'debug', 'debug', 'debug', 'debug', 'warn', 'debug', 'debug', 'debug'],
  );
  assert.match(lines[6]!.msg!, /retried for 30 s/);
  assert.equal(lines[6]!.obj.error, "The coordinator is loading and hence can't process requests for this group");
  // After a quiet spell longer than the threshold, a new occurrence starts a new streak at debug.
  now += 60_000;
  log({ namespace: 'Connection', level: ERROR, label: 'ERROR', log: loading });
  assert.equal(lines.at(-1)!.level, 'debug');
});

test('the partitioner and idempotent-retries notices are debug; rebalancing and consumer restarts are debug', () => {
  const { logger, lines } = recorder();
  const log = kafkaLogCreator(logger)(WARN);
  log({ namespace: 'Producer', level: WARN, label: 'WARN', log: entry('Limiting retries for the idempotent producer may invalidate EoS guarantees') });
  log({ namespace: '', level: WARN, label: 'WARN', log: entry('KafkaJS v2.0.0 switched default partitioner. To retain the same partitioning behavior ...') });
  log({ namespace: 'Runner', level: WARN, label: 'WARN', log: entry('The group is rebalancing, re-joining', { error: 'The group is rebalancing, so a rejoin is needed' }) });
  log({ namespace: 'Consumer', level: ERROR, label: 'ERROR', log: entry('Restarting the consumer in 300ms', { retryCount: 0 }) });
  // Seen on a fresh broker: the consumer "crashes" on a loading coordinator and kafkajs restarts it.
  log({ namespace: 'Consumer', level: ERROR, label: 'ERROR', log: entry("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group", { groupId: 'g' }) });
  assert.deepEqual(lines.map((l) => l.level), ['debug', 'debug', 'debug', 'debug', 'debug']);
});

test('a non-retriable error, a crash and ordinary info lines keep their level', () => {
  const { logger, lines } = recorder();
  const log = kafkaLogCreator(logger)(INFO);
  log({ namespace: 'Connection', level: ERROR, label: 'ERROR', log: entry('Response SaslAuthenticate(key: 36, version: 2)', { error: 'Request is not valid given the current SASL state' }) });
  log({ namespace: 'Consumer', level: ERROR, label: 'ERROR', log: entry('Crash: KafkaJSNonRetriableError: Topic authorization failed') });
  log({ namespace: 'Consumer', level: INFO, label: 'INFO', log: entry('Starting', { groupId: 'g' }) });
  assert.deepEqual(lines.map((l) => [l.level, l.obj.kafkajs]), [['error', 'Connection'], ['error', 'Consumer'], ['info', 'Consumer']]);
});
