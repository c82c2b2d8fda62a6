// What every command needs: the configuration (exit 2 on a bad one), a logger, a pool.
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createLogger, secretsOf, type Logger } from '../log.ts';
import { createPool, type Pool } from '../db/pool.ts';

export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`orchestry-ingest: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function loggerFor(config: Config): Logger {
  return createLogger({ level: config.log.level, pretty: config.log.pretty, secrets: secretsOf(config) });
}

/** A pool on DATABASE_URL; exits 2 when it is not set. */
export function poolFor(config: Config, applicationName?: string): Pool {
  if (!config.db.url) {
    process.stderr.write('orchestry-ingest: invalid configuration:\n  DATABASE_URL: is required for this command (or use `orchestry-ingest start`, which brings up a local stack)\n');
    process.exit(2);
  }
  return createPool({ ...config.db, url: config.db.url }, applicationName);
}

/**
 * A pool for a read-only command: on DATABASE_REPLICA_URL when it is set (same TLS settings), so
 * operators' reads stay off the primary; otherwise on DATABASE_URL.
 */
export function readPoolFor(config: Config, applicationName?: string): Pool {
  if (!config.db.replicaUrl) return poolFor(config, applicationName);
  return createPool({ ...config.db, url: config.db.replicaUrl }, applicationName);
}

export function brokersFor(config: Config): string[] {
  if (!config.kafka.brokers) {
    process.stderr.write('orchestry-ingest: invalid configuration:\n  KAFKA_BROKERS: is required for this command (or use `orchestry-ingest start`, which brings up a local stack)\n');
    process.exit(2);
  }
  return config.kafka.brokers;
}
