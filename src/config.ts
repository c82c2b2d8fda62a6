// Configuration: one zod schema, read once from the environment at start.
// Names carry their units; a bad value stops start-up with one message naming every bad variable.
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { z } from 'zod';
import { mask, UNPARSABLE_URL } from './mask.ts';

/** The topics' default names (also what the local stack creates). */
export const DEFAULT_TOPICS = {
  stats: 'orchestry.container.stats',
  lifecycle: 'orchestry.container.lifecycle',
  dlq: 'orchestry.ingest.dlq',
} as const;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each broker must be host:port')).min(1));
const pgUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
  .refine((s) => URL.canParse(s), 'is not a valid URL');
const topic = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a legal Kafka topic name');
const cron = z
  .string()
  .regex(/^(\S+\s+){4,5}\S+$/, 'must be a cron expression with 5 or 6 fields')
  .refine((expr) => {
    try {
      new Cron(expr, { timezone: 'UTC', paused: true }).stop();
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid cron expression');

/** The environment variables the worker reads, with defaults. Every key is documented in the README. */
export const envSchema = z.object({
  KAFKA_BROKERS: csv.optional(),
  KAFKA_CLIENT_ID: z.string().min(1).default('orchestry-ingest'),
  KAFKA_GROUP_ID: z.string().min(1).default('orchestry-ingest'),
  KAFKA_TOPIC_STATS: topic.default(DEFAULT_TOPICS.stats),
  KAFKA_TOPIC_LIFECYCLE: topic.default(DEFAULT_TOPICS.lifecycle),
  KAFKA_TOPIC_DLQ: topic.default(DEFAULT_TOPICS.dlq),
  KAFKA_SSL: bool.default(false),
  KAFKA_SSL_CA_FILE: z.string().optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool.default(true),
  KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_SESSION_TIMEOUT_MS: int(6000, 300000).default(30000),
  DATABASE_URL: pgUrl.optional(),
  DATABASE_REPLICA_URL: pgUrl.optional(),
  DATABASE_POOL_MAX: int(2, 200).default(10),
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  DATABASE_SSL_CA_FILE: z.string().optional(),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3600000).default(60000),
  HTTP_PORT: int(0, 65535).default(9464),
  HTTP_HOST: z.string().default('0.0.0.0'),
  LAG_REFRESH_INTERVAL_MS: int(100, 3600000).default(15000),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  ARCHIVE_DIR: z.string().min(1).default('./archive'),
  ARCHIVE_URL: z
    .string()
    .regex(/^(file:\/\/.+|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?)$/, 'must be file:///path, file://./relative or s3://bucket[/prefix]')
    .optional(),
  ARCHIVE_FORMAT: z.enum(['parquet', 'copy-gzip']).default('parquet'),
  S3_ENDPOINT: z.string().refine((s) => /^https?:\/\//.test(s) && URL.canParse(s), 'must be an http:// or https:// URL').optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: bool.optional(),
  WORKER_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  BATCH_MAX_MESSAGES: int(1, 1000000).default(2500),
  BATCH_MAX_BYTES: int(1024, 1024 * 1024 * 1024).default(2 * 1024 * 1024),
  BATCH_MAX_WAIT_MS: int(0, 60000).default(50),
  KAFKA_FETCH_MIN_BYTES: int(1, 64 * 1024 * 1024).default(1),
  PARTITIONS_CONCURRENCY: int(1, 64).default(2),
  MESSAGE_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  // Hostile input (issue 11): inflation cap per record batch, DLQ value cap, placeholder applications.
  KAFKA_DECOMPRESSED_BATCH_MAX_BYTES: int(64 * 1024, 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  DLQ_VALUE_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(1_000_000),
  PLACEHOLDER_APPS_MAX: int(0, 10_000_000).default(1000),
  PLACEHOLDER_APPS_TTL_HOURS: int(1, 24 * 3650).default(24),
  TIMESTAMP_MAX_FUTURE_SKEW_MS: int(0, 7 * 86400000).default(5 * 60000),
  DB_RETRY_MAX_BACKOFF_MS: int(100, 300000).default(30000),
  INGEST_SYNCHRONOUS_COMMIT: z.enum(['off', 'local', 'remote_write', 'on', 'remote_apply']).default('off'),
  SHUTDOWN_TIMEOUT_MS: int(1000, 600000).default(30000),
  RETENTION_EVENTS_DAYS: int(1, 3650).default(30),
  RETENTION_METRICS_INSTANCE_DAYS: int(1, 3650).default(7),
  RETENTION_METRICS_APP_DAYS: int(1, 3650).default(30),
  RETENTION_STOPPED_INSTANCES_DAYS: int(1, 3650).default(7),
  RETENTION_JOB_RUNS_DAYS: int(1, 3650).default(30),
  RETENTION_DEAD_LETTERS_DAYS: int(1, 3650).default(30),
  ARCHIVE_BEFORE_DROP: bool.default(false),
  PARTITIONS_AHEAD_DAYS: int(1, 90).default(3),
  ROLLUP_GRACE_MINUTES: int(0, 10080).default(0),
  ROLLUP_MIRROR_APP_METRICS: bool.default(false),
  ROLLUP_WORK_MEM_MB: int(1, 2048).default(64),
  SCHEDULER_ENABLED: bool.default(true),
  SCHEDULE_PARTITIONS: cron.default('*/15 * * * *'),
  SCHEDULE_ROLLUPS: cron.default('20 * * * * *'),
  SCHEDULE_RETENTION: cron.default('0 2 * * *'),
  SCHEDULE_ARCHIVE: cron.default('30 2 * * *'),
  SCHEDULE_COMPRESS_EVENTS: cron.default('0 1 * * *'),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  kafka: {
    brokers: string[] | undefined;
    clientId: string;
    groupId: string;
    topics: { stats: string; lifecycle: string; dlq: string };
    ssl: { enabled: boolean; caFile: string | undefined; rejectUnauthorized: boolean };
    sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
    sessionTimeoutMs: number;
  };
  db: {
    url: string | undefined;
    replicaUrl: string | undefined;
    /** DATABASE_REPLICA_URL, else DATABASE_URL: where read-only commands read. */
    readUrl?: string | undefined;
    poolMax: number;
    ssl: 'disable' | 'require' | 'verify-full';
    sslCaFile: string | undefined;
    statementTimeoutMs: number;
  };
  http: { port: number; host: string; adminToken: string | undefined };
  lagRefreshIntervalMs: number;
  archiveDir: string;
  archive: {
    /** file://… or s3://bucket/prefix; ARCHIVE_DIR as a file:// URL when ARCHIVE_URL is unset. */
    url: string;
    format: 'parquet' | 'copy-gzip';
    s3: { endpoint: string | undefined; region: string; accessKeyId: string | undefined; secretAccessKey: string | undefined; forcePathStyle: boolean };
  };
  log: { level: Env['LOG_LEVEL']; pretty: boolean };
  workerId: string;
  batch: {
    maxMessages: number;
    maxBytes: number;
    maxWaitMs: number;
    /** The broker answers a fetch once this many bytes are there, or after maxWaitMs. */
    fetchMinBytes: number;
    partitionsConcurrency: number;
    messageMaxBytes: number;
    decompressedMaxBytes: number;
    dlqValueMaxBytes: number;
  };
  timestampMaxFutureSkewMs: number;
  placeholderApps: { max: number; ttlHours: number };
  dbRetryMaxBackoffMs: number;
  /** synchronous_commit of the ingest transactions (rows, dead letters and stored offset together). */
  ingestSynchronousCommit: 'off' | 'local' | 'remote_write' | 'on' | 'remote_apply';
  shutdownTimeoutMs: number;
  retention: {
    eventsDays: number;
    metricsInstanceDays: number;
    metricsAppDays: number;
    stoppedInstancesDays: number;
    /** Finished job_runs rows older than this are deleted (each job's newest finished run is kept). */
    jobRunsDays: number;
    /** ingest_dead_letters records older than this are deleted. */
    deadLettersDays: number;
    archiveBeforeDrop: boolean;
  };
  partitionsAheadDays: number;
  rollupGraceMinutes: number;
  rollupMirrorAppMetrics: boolean;
  /** work_mem of the rollups job's statements, in MB (its hash aggregates spill to disk at the server's default). */
  rollupWorkMemMb: number;
  scheduler: {
    enabled: boolean;
    schedules: { partitions: string; rollups: string; retention: string; archive: string; 'compress-events': string };
  };
}

/** Raised when the environment does not make a valid configuration; `message` names every bad variable. */
export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(readonly problems: { variable: string; reason: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * What a caller can require of the environment. `DATABASE_READ` is a database to read from:
 * DATABASE_REPLICA_URL when it is set, else DATABASE_URL (read-only commands stay off the primary).
 */
export type Requirement = 'KAFKA_BROKERS' | 'DATABASE_URL' | 'DATABASE_READ';

/** The configuration with the required parts known to be present (narrowed once, by loadConfig). */
export type ConfigWith<R extends Requirement> = Config &
  ('KAFKA_BROKERS' extends R ? { kafka: { brokers: string[] } } : unknown) &
  ('DATABASE_URL' extends R ? { db: { url: string } } : unknown) &
  ('DATABASE_READ' extends R ? { db: { readUrl: string } } : unknown);

/** What the worker (`run`, `start`) requires. */
export const WORKER_REQUIRES = ['KAFKA_BROKERS', 'DATABASE_URL'] as const satisfies readonly Requirement[];

const LOCAL_STACK_HINT = '(or use `orchestry-ingest start`, which brings up a local stack)';

type Problem = { variable: string; reason: string };

/** How a configuration error shows the bad value: masked, and an unparsable URL not at all. */
function gotValue(variable: string, value: string | undefined): string {
  const shown = value === undefined ? undefined : mask(variable, value);
  return shown === UNPARSABLE_URL ? 'value not shown: not a parsable URL' : `got ${JSON.stringify(shown)}`;
}

/** The schema's variables that are set: empty strings count as unset, as in most twelve-factor tools. */
function setVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') raw[key] = v.trim();
  }
  return raw;
}

/** Variables that only make sense together: each missing one of a group that is partly set. */
function groupProblems(raw: Record<string, string>): Problem[] {
  const problems: Problem[] = [];
  const s3Keys = ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const;
  if (s3Keys.some((v) => raw[v] !== undefined)) {
    for (const v of s3Keys) if (raw[v] === undefined) problems.push({ variable: v, reason: 'must be set when the other S3 key variable is set' });
  }
  const saslVars = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;
  if (saslVars.some((v) => raw[v] !== undefined)) {
    for (const v of saslVars) {
      if (raw[v] === undefined) problems.push({ variable: v, reason: 'must be set when any KAFKA_SASL_* variable is set' });
    }
  }
  return problems;
}

/** The required variables that are not set. */
function requirementProblems(raw: Record<string, string>, required: readonly Requirement[]): Problem[] {
  const problems: Problem[] = [];
  if (required.includes('KAFKA_BROKERS') && raw.KAFKA_BROKERS === undefined) {
    problems.push({ variable: 'KAFKA_BROKERS', reason: `is required for this command ${LOCAL_STACK_HINT}` });
  }
  if (required.includes('DATABASE_URL') && raw.DATABASE_URL === undefined) {
    problems.push({ variable: 'DATABASE_URL', reason: `is required for this command ${LOCAL_STACK_HINT}` });
  } else if (required.includes('DATABASE_READ') && raw.DATABASE_URL === undefined && raw.DATABASE_REPLICA_URL === undefined) {
    problems.push({ variable: 'DATABASE_URL', reason: `is required for this command (DATABASE_REPLICA_URL also serves it) ${LOCAL_STACK_HINT}` });
  }
  return problems;
}

/** One problem per variable, its reasons joined. */
function merged(problems: Problem[]): Problem[] {
  const byVariable = new Map<string, string[]>();
  for (const p of problems) byVariable.set(p.variable, [...(byVariable.get(p.variable) ?? []), p.reason]);
  return [...byVariable].map(([variable, reasons]) => ({ variable, reason: reasons.join('; ') }));
}

/**
 * Parses the environment once: a bad value, a partial group (SASL, S3 keys) or a variable in
 * `require` that is not set throws one ConfigError naming every such variable. The result's type
 * says which of the required parts are present, so no caller checks them again.
 */
export function loadConfig<R extends Requirement = never>(env: NodeJS.ProcessEnv = process.env, opts: { require?: readonly R[] } = {}): ConfigWith<R> {
  const raw = setVariables(env);
  const parsed = envSchema.safeParse(raw);
  const problems: Problem[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '(environment)');
      problems.push({ variable, reason: `${issue.message} (${gotValue(variable, raw[variable])})` });
    }
  }
  problems.push(...groupProblems(raw), ...requirementProblems(raw, opts.require ?? []));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(merged(problems));
  return fromEnv(parsed.data) as ConfigWith<R>;
}

/** The configuration object of a parsed environment. */
function fromEnv(e: Env): Config {
  return {
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      groupId: e.KAFKA_GROUP_ID,
      topics: { stats: e.KAFKA_TOPIC_STATS, lifecycle: e.KAFKA_TOPIC_LIFECYCLE, dlq: e.KAFKA_TOPIC_DLQ },
      ssl: { enabled: e.KAFKA_SSL, caFile: e.KAFKA_SSL_CA_FILE, rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED },
      sasl:
        e.KAFKA_SASL_MECHANISM && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
          ? { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD }
          : undefined,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    },
    db: {
      url: e.DATABASE_URL,
      replicaUrl: e.DATABASE_REPLICA_URL,
      readUrl: e.DATABASE_REPLICA_URL ?? e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      ssl: e.DATABASE_SSL,
      sslCaFile: e.DATABASE_SSL_CA_FILE,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST, adminToken: e.ADMIN_TOKEN },
    lagRefreshIntervalMs: e.LAG_REFRESH_INTERVAL_MS,
    archiveDir: e.ARCHIVE_DIR,
    archive: {
      url: e.ARCHIVE_URL ?? `file://${e.ARCHIVE_DIR}`,
      format: e.ARCHIVE_FORMAT,
      s3: {
        endpoint: e.S3_ENDPOINT,
        region: e.S3_REGION,
        accessKeyId: e.S3_ACCESS_KEY_ID,
        secretAccessKey: e.S3_SECRET_ACCESS_KEY,
        forcePathStyle: e.S3_FORCE_PATH_STYLE,
      },
    },
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY ?? Boolean(process.stderr.isTTY) },
    workerId: e.WORKER_ID,
    batch: {
      maxMessages: e.BATCH_MAX_MESSAGES,
      maxBytes: e.BATCH_MAX_BYTES,
      maxWaitMs: e.BATCH_MAX_WAIT_MS,
      fetchMinBytes: e.KAFKA_FETCH_MIN_BYTES,
      partitionsConcurrency: e.PARTITIONS_CONCURRENCY,
      messageMaxBytes: e.MESSAGE_MAX_BYTES,
      decompressedMaxBytes: e.KAFKA_DECOMPRESSED_BATCH_MAX_BYTES,
      dlqValueMaxBytes: e.DLQ_VALUE_MAX_BYTES,
    },
    timestampMaxFutureSkewMs: e.TIMESTAMP_MAX_FUTURE_SKEW_MS,
    placeholderApps: { max: e.PLACEHOLDER_APPS_MAX, ttlHours: e.PLACEHOLDER_APPS_TTL_HOURS },
    dbRetryMaxBackoffMs: e.DB_RETRY_MAX_BACKOFF_MS,
    ingestSynchronousCommit: e.INGEST_SYNCHRONOUS_COMMIT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    retention: {
      eventsDays: e.RETENTION_EVENTS_DAYS,
      metricsInstanceDays: e.RETENTION_METRICS_INSTANCE_DAYS,
      metricsAppDays: e.RETENTION_METRICS_APP_DAYS,
      stoppedInstancesDays: e.RETENTION_STOPPED_INSTANCES_DAYS,
      jobRunsDays: e.RETENTION_JOB_RUNS_DAYS,
      deadLettersDays: e.RETENTION_DEAD_LETTERS_DAYS,
      archiveBeforeDrop: e.ARCHIVE_BEFORE_DROP,
    },
    partitionsAheadDays: e.PARTITIONS_AHEAD_DAYS,
    rollupGraceMinutes: e.ROLLUP_GRACE_MINUTES,
    rollupMirrorAppMetrics: e.ROLLUP_MIRROR_APP_METRICS,
    rollupWorkMemMb: e.ROLLUP_WORK_MEM_MB,
    scheduler: {
      enabled: e.SCHEDULER_ENABLED,
      schedules: {
        partitions: e.SCHEDULE_PARTITIONS,
        rollups: e.SCHEDULE_ROLLUPS,
        retention: e.SCHEDULE_RETENTION,
        archive: e.SCHEDULE_ARCHIVE,
        'compress-events': e.SCHEDULE_COMPRESS_EVENTS,
      },
    },
  };
}

/** The effective configuration as the environment variables it came from, secrets masked. */
export function describeConfig(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const parsed = envSchema.parse(
    Object.fromEntries(Object.keys(envSchema.shape).flatMap((k) => (env[k] ? [[k, env[k]]] : []))),
  ) as Record<string, unknown>;
  for (const key of Object.keys(envSchema.shape)) {
    const v = parsed[key];
    if (v === undefined) out[key] = '(unset)';
    else out[key] = mask(key, Array.isArray(v) ? v.join(',') : String(v));
  }
  return out;
}
