// stack up | down | status: the embedded local stack (real Kafka broker, real PostgreSQL), from a
// development checkout only (tools/stack/ is not part of the product).
import type { Command } from 'commander';
import { maskUrl } from '../mask.ts';
import { configOrExit } from './context.ts';
import { loadLocalStack } from './local-stack.ts';

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('the embedded local stack: Apache Kafka (KRaft) and PostgreSQL under .stack/');
  const log = (line: string) => process.stderr.write(`${line}\n`);

  stack
    .command('up')
    .description('start what is not configured (idempotent); prints KAFKA_BROKERS=... and DATABASE_URL=... on stdout')
    .option('--with-s3', 'also run S3Proxy, a local S3-compatible server, and print S3_* and ARCHIVE_URL')
    .action(async (opts: { withS3?: boolean }) => {
      const config = configOrExit();
      const { stackUp } = await loadLocalStack('`orchestry-ingest stack`');
      const up = await stackUp({
        ...(config.db.url ? { databaseUrl: config.db.url } : {}),
        ...(config.kafka.brokers ? { kafkaBrokers: config.kafka.brokers.join(',') } : {}),
        topics: config.kafka.topics,
        withS3: Boolean(opts.withS3),
        log,
      });
      process.stdout.write(`KAFKA_BROKERS=${up.kafkaBrokers}\nDATABASE_URL=${up.databaseUrl}\n`);
      for (const [k, v] of Object.entries(up.s3 ?? {})) process.stdout.write(`${k}=${v}\n`);
    });

  stack
    .command('down')
    .description('stop the local stack and leave no process behind')
    .option('--purge', 'also delete its data')
    .action(async (opts: { purge?: boolean }) => {
      const { stackDown } = await loadLocalStack('`orchestry-ingest stack`');
      await stackDown({ log, purge: Boolean(opts.purge) });
    });

  stack
    .command('status')
    .description('say what runs where')
    .action(async () => {
      const { stackStatus } = await loadLocalStack('`orchestry-ingest stack`');
      const s = await stackStatus();
      process.stdout.write(
        `kafka:    ${s.kafka.running ? `running (pid ${s.kafka.pid}) at ${s.kafka.brokers}` : 'stopped'}\n` +
          `postgres: ${s.postgres.running ? `running (pid ${s.postgres.pid}) at ${maskUrl(s.postgres.url ?? '')}` : 'stopped'}\n`,
      );
    });
}
