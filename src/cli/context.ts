// What every command needs: the configuration, narrowed once to what the command requires (exit 2
// with one message naming every bad or missing variable), a logger, a pool.
import { ConfigError, loadConfig, type Config, type ConfigWith, type Requirement } from '../config.ts';
import { createLogger, secretsOf, type Logger } from '../log.ts';
import { createPool, type Pool } from '../db/pool.ts';

/** The configuration with the `require`d variables present; exits 2 (one message) otherwise. */
export function configOrExit<R extends Requirement = never>(opts: { require?: readonly R[]; env?: NodeJS.ProcessEnv } = {}): ConfigWith<R> {
  try {
    return loadConfig(opts.env ?? process.env, { require: opts.require ?? [] });
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

/** A pool on DATABASE_URL. */
export function poolFor(config: ConfigWith<'DATABASE_URL'>, applicationName?: string): Pool {
  return createPool(config.db, applicationName);
}

/**
 * A pool for a read-only command: on DATABASE_REPLICA_URL when it is set (same TLS settings), so
 * operators' reads stay off the primary; otherwise on DATABASE_URL.
 */
export function readPoolFor(config: ConfigWith<'DATABASE_READ'>, applicationName?: string): Pool {
  return createPool({ ...config.db, url: config.db.readUrl }, applicationName);
}
