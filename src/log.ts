// pino logger with redaction. Loggers are passed down as children with scope (topic, partition,
// offset range, job, run id). Secrets never reach a log line, by three layers:
//   1. keys that name a secret (password, token, secret, authorization, sasl, ...) are censored at
//      any depth of a logged object, and Errors anywhere in it are serialized (message, stack, cause);
//   2. every finished line has the password of any `scheme://user:password@host` masked;
//   3. every finished line has the literal secret values it was given (`secrets`) masked.
import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';
import { maskUrl } from './mask.ts';

export type { Logger };

const CENSOR = '****';
const SECRET_KEY = /^(pass|pwd)$|passw(or)?d|secret|token|authorization|cookie|credential|api[-_]?key|^sasl$|private[-_]?key/i;
const MAX_DEPTH = 8;
/** Marks an Error already serialized here, so pino's `err` serializer does not serialize it again. */
const SERIALIZED = Symbol('serialized');
/** Literal secrets shorter than this are not scrubbed from free text (they would mangle ordinary words). */
const MIN_LITERAL_SECRET = 6;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A function that masks URL passwords and the given literal secrets (also as they appear JSON- or URL-encoded). */
export function createScrubber(secrets: readonly (string | undefined)[] = []): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s || s.length < MIN_LITERAL_SECRET) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
    forms.add(encodeURIComponent(s));
  }
  const literal = forms.size > 0 ? new RegExp([...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g') : undefined;
  return (text) => {
    const masked = maskUrl(text);
    return literal ? masked.replace(literal, CENSOR) : masked;
  };
}

/** The secret values of a configuration, for `createLogger({ secrets })`. */
export function secretsOf(config: Config): string[] {
  const out: string[] = [];
  if (config.http.adminToken) out.push(config.http.adminToken);
  if (config.kafka.sasl) out.push(config.kafka.sasl.password);
  if (config.archive.s3.secretAccessKey) out.push(config.archive.s3.secretAccessKey);
  for (const url of [config.db.url, config.db.replicaUrl]) {
    if (!url) continue;
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) out.push(password);
    } catch {
      // An unparsable URL was refused by loadConfig already.
    }
  }
  return out;
}

/**
 * A copy of `value` with secret-named keys censored and Errors serialized, at any depth (cycles and
 * depth beyond MAX_DEPTH become "[Circular]" / "[Truncated]"). The caller's object is never mutated.
 */
function redactDeep(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Truncated]';
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (value instanceof Error) {
    seen.add(value);
    const out = redactDeep(pino.stdSerializers.err(value), depth, seen) as Record<string | symbol, unknown>;
    seen.delete(value);
    Object.defineProperty(out, SERIALIZED, { value: true });
    return out;
  }
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return redactDeep(json.call(value), depth + 1, seen);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
    if (value instanceof Map) return redactDeep(Object.fromEntries(value), depth, seen);
    if (value instanceof Set) return redactDeep([...value], depth, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '' ? CENSOR : redactDeep(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * One JSON line with each key once, the last value winning (as JSON.parse reads it): a child's
 * binding repeated by a grandchild or by the call's own object (`component`, `topic`) otherwise
 * appears twice, which strict JSON consumers reject. A line that is not JSON is returned as it is.
 */
export function uniqueKeys(line: string): string {
  try {
    return `${JSON.stringify(JSON.parse(line))}\n`;
  } catch {
    return line;
  }
}

function redactObject(obj: Record<string, unknown>): Record<string, unknown> {
  return redactDeep(obj, 0, new WeakSet()) as Record<string, unknown>;
}

export interface LoggerOptions {
  level: string;
  /** Human-readable, coloured lines (pino-pretty) instead of JSON lines. */
  pretty?: boolean;
  name?: string;
  /** Where the lines go; stderr when absent. Tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
  /** Literal secret values to mask wherever they appear (see `secretsOf(config)`). */
  secrets?: readonly (string | undefined)[];
}

export function createLogger(opts: LoggerOptions): Logger {
  const scrub = createScrubber(opts.secrets);
  const options: pino.LoggerOptions = {
    name: opts.name ?? 'orchestry-ingest',
    level: opts.level,
    formatters: {
      level: (label) => ({ level: label }),
      bindings: (b) => redactObject(b),
      log: (obj) => redactObject(obj),
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: {
      // pino takes the message of `log.error(err)` / `log.error({ err })` from the Error after this
      // hook; naming it here keeps it under the line scrubber like every other string.
      logMethod(args, method) {
        const first = args[0] as unknown;
        if (args.length === 1 && first instanceof Error) {
          return method.apply(this, [{ err: first }, first.message] as unknown as Parameters<typeof method>);
        }
        const err = (first as { err?: unknown } | null)?.err;
        if (args.length === 1 && typeof first === 'object' && err instanceof Error && (first as { msg?: unknown }).msg === undefined) {
          return method.apply(this, [first, err.message] as unknown as Parameters<typeof method>);
        }
        return method.apply(this, args);
      },
      // The last word: the finished line, whatever produced it, with unique keys and no secret.
      streamWrite: (line) => scrub(uniqueKeys(line)),
    },
    serializers: { err: (e: unknown) => (e && typeof e === 'object' && SERIALIZED in e ? e : pino.stdSerializers.err(e as Error)) },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}
