// Routes kafkajs's log lines into pino at the level an operator should see them: retriable protocol
// errors that resolve on their own (a coordinator loading, a leader moving) are debug until they last.
import { createRequire } from 'node:module';
import kafkajs, { type logCreator } from 'kafkajs';

/** The subset of a pino logger that kafkajs's logs are routed to. */
export interface KafkaLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A retriable condition logged for longer than this (without a pause of as long) is raised to warn. */
export const RETRIABLE_WARN_AFTER_MS = 30_000;

// kafkajs's own table of protocol errors (type, code, retriable, message): the one list of which
// broker answers are transient, so this module keeps no copy of it.
const { errorCodes } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  errorCodes: { type: string; retriable: boolean; message: string }[];
};
const RETRIABLE_MESSAGES = new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message));

// Lines that are routine while a group forms or a broker comes back; they say nothing is lost.
const ROUTINE = [
  /^Response (FindCoordinator|GroupCoordinator|JoinGroup|SyncGroup|Heartbeat|OffsetFetch|OffsetCommit|Metadata|ListOffsets|Fetch)\b/,
  /^Restarting the consumer in \d+ms$/,
  /^The group is rebalancing, re-joining$/,
];

// Notices demoted to debug, each for a stated reason:
// - the v2 partitioner notice: this project never used the v1 partitioner;
// - "Limiting retries for the idempotent producer": the DLQ producer's retries are bounded on
//   purpose (a batch whose dead letters cannot be sent fails and backs off instead of hanging
//   shutdown), and the DLQ topic is at-least-once by design (README): ingest_dead_letters, written in
//   the batch's transaction, is the exactly-once record, so the EoS the notice warns about is not a
//   guarantee this worker gives or relies on.
const NOTICES = ['KafkaJS v2.0.0 switched default partitioner', 'Limiting retries for the idempotent producer may invalidate EoS guarantees'];

interface Streak {
  first: number;
  last: number;
  warned: boolean;
}

/** True when a kafkajs line reports a transient condition kafkajs retries on its own. */
export function isRetriableLine(message: string, extra: Record<string, unknown>): boolean {
  const error = typeof extra.error === 'string' ? extra.error : undefined;
  if (error !== undefined && RETRIABLE_MESSAGES.has(error)) return true;
  if (RETRIABLE_MESSAGES.has(message)) return true;
  // kafkajs restarts a consumer whose crash has a retriable cause (it logs "Restarting the consumer").
  const crash = /^Crash: KafkaJS\w*Error: (.*)$/.exec(message);
  if (crash && RETRIABLE_MESSAGES.has(crash[1]!)) return true;
  return ROUTINE.some((re) => re.test(message)) && (error === undefined || RETRIABLE_MESSAGES.has(error) || /rebalanc|coordinator/i.test(error));
}

/**
 * A kafkajs logCreator writing to `logger`. A retriable line is debug while its condition is younger
 * than `warnAfterMs`, then one warn line per streak (a streak ends after `warnAfterMs` of silence).
 */
export function kafkaLogCreator(logger: KafkaLogger, warnAfterMs = RETRIABLE_WARN_AFTER_MS, now: () => number = Date.now): logCreator {
  const { ERROR, WARN, INFO } = kafkajs.logLevel;
  const streaks = new Map<string, Streak>();
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _t, logger: _l, ...extra } = log;
    const obj = { kafkajs: namespace, ...extra };
    if (NOTICES.some((n) => message.startsWith(n))) return logger.debug(obj, message);
    if ((level === ERROR || level === WARN) && isRetriableLine(message, extra)) {
      const key = `${namespace}\0${message}\0${String(extra.error ?? '')}`;
      const t = now();
      let s = streaks.get(key);
      if (!s || t - s.last > warnAfterMs) {
        s = { first: t, last: t, warned: false };
        streaks.set(key, s);
      }
      s.last = t;
      if (t - s.first < warnAfterMs || s.warned) return logger.debug(obj, message);
      s.warned = true;
      return logger.warn({ ...obj, lastingMs: t - s.first }, `${message} (retried for ${Math.round((t - s.first) / 1000)} s)`);
    }
    if (level === ERROR) logger.error(obj, message);
    else if (level === WARN) logger.warn(obj, message);
    else if (level === INFO) logger.info(obj, message);
    else logger.debug(obj, message);
  };
}
