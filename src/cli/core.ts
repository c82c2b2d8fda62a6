// config, migrate, schema, run, start.
import type { Command } from 'commander';
import { describeConfig, WORKER_REQUIRES } from '../config.ts';
import { migrate, migrationStatus } from '../db/migrate.ts';
import { contractJsonSchema } from '../ingest/contract.ts';
import { runWorkerUntilSignal } from '../worker.ts';
import { configOrExit, loggerFor, poolFor } from './context.ts';
import { loadLocalStack } from './local-stack.ts';

export function registerCoreCommands(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration (secrets masked); exit 2 when it is invalid')
    .action(() => {
      configOrExit();
      const cfg = describeConfig();
      const width = Math.max(...Object.keys(cfg).map((k) => k.length));
      for (const [k, v] of Object.entries(cfg)) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
    });

  program
    .command('migrate')
    .description('apply pending migrations (idempotent; safe to run from several processes at once)')
    .option('--status', 'only report applied and pending migrations')
    .action(async (opts: { status?: boolean }) => {
      const config = configOrExit({ require: ['DATABASE_URL'] });
      const pool = poolFor(config, 'orchestry-ingest-migrate');
      try {
        if (opts.status) {
          const s = await migrationStatus(pool);
          process.stdout.write(`applied: ${s.applied}\npending: ${s.pending.join(', ') || '(none)'}\n`);
        } else {
          const applied = await migrate(pool, { log: (m) => process.stderr.write(`${m}\n`) });
          process.stderr.write(applied.length ? `applied ${applied.length} migration(s)\n` : 'schema is current\n');
        }
      } finally {
        await pool.end();
      }
    });

  program
    .command('schema')
    .description('print the wire contract v1 as JSON Schema (for producers in other languages)')
    .argument('[message]', 'stats | lifecycle | all', 'all')
    .action((which: string) => {
      const all = contractJsonSchema();
      const out = which === 'stats' ? all.stats : which === 'lifecycle' ? all.lifecycle : all;
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });

  program
    .command('run')
    .description('migrate, then consume and ingest until SIGTERM/SIGINT (needs KAFKA_BROKERS and DATABASE_URL)')
    .action(async () => {
      const config = configOrExit({ require: WORKER_REQUIRES });
      process.exitCode = await runWorkerUntilSignal(config, loggerFor(config));
    });

  program
    .command('start')
    .description('like run, but first brings up the embedded local stack for whatever is not configured')
    .action(async () => {
      const partial = configOrExit();
      const logger = loggerFor(partial);
      let env = process.env;
      if (!partial.kafka.brokers || !partial.db.url) {
        const { stackUp } = await loadLocalStack('`orchestry-ingest start` without KAFKA_BROKERS and DATABASE_URL');
        const stack = await stackUp({
          ...(partial.db.url ? { databaseUrl: partial.db.url } : {}),
          ...(partial.kafka.brokers ? { kafkaBrokers: partial.kafka.brokers.join(',') } : {}),
          topics: partial.kafka.topics,
          log: (line) => logger.info(line),
        });
        env = { ...process.env, KAFKA_BROKERS: stack.kafkaBrokers, DATABASE_URL: stack.databaseUrl };
        logger.info({ kafkaBrokers: stack.kafkaBrokers }, 'local stack is up (`orchestry-ingest stack down` stops it)');
      }
      process.exitCode = await runWorkerUntilSignal(configOrExit({ require: WORKER_REQUIRES, env }), logger);
    });
}
