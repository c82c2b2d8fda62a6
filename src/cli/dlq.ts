// dlq replay: re-publishes dead-lettered messages to their source topic (the configured stats and
// lifecycle topics only), or to the topic given by --to.
import type { Command } from 'commander';
import { createKafka } from '../kafka/client.ts';
import { replayDlq } from '../ingest/dead-letters/replay.ts';
import { configOrExit, loggerFor } from './context.ts';

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter topic');
  dlq
    .command('replay')
    .description('re-publish DLQ messages to their source topic (original key, value and headers); only the configured stats and lifecycle topics unless --to is given')
    .option('--code <code>', 'only messages with this error code, e.g. E_DB_REJECTED')
    .option('--since <time>', 'only messages dead-lettered at or after this RFC 3339 time')
    .option('--to <topic>', 'publish the selected messages to this topic, whatever their source header says')
    .option('--timeout-ms <ms>', 'stop when no message arrives for this long', '5000')
    .action(async (opts: { code?: string; since?: string; to?: string; timeoutMs: string }) => {
      const config = configOrExit({ require: ['KAFKA_BROKERS'] });
      const since = opts.since ? Date.parse(opts.since) : undefined;
      if (since !== undefined && Number.isNaN(since)) {
        process.stderr.write(`orchestry-ingest: --since: ${opts.since} is not an RFC 3339 time\n`);
        process.exit(2);
      }
      if (opts.to !== undefined && !/^[a-zA-Z0-9._-]{1,249}$/.test(opts.to)) {
        process.stderr.write(`orchestry-ingest: --to: ${JSON.stringify(opts.to)} is not a legal Kafka topic name\n`);
        process.exit(2);
      }
      const kafka = createKafka(config.kafka, loggerFor(config));
      const res = await replayDlq(kafka, {
        dlqTopic: config.kafka.topics.dlq,
        sourceTopics: [config.kafka.topics.stats, config.kafka.topics.lifecycle],
        ...(opts.to ? { to: opts.to } : {}),
        ...(opts.code ? { code: opts.code } : {}),
        ...(since !== undefined ? { sinceMs: since } : {}),
        idleTimeoutMs: Number(opts.timeoutMs),
        progress: (p) => process.stderr.write(`\rscanned ${p.scanned}, replayed ${p.replayed}`),
      });
      process.stderr.write(`\nreplayed ${res.replayed} of ${res.scanned} DLQ messages\n`);
      if (res.refused > 0) {
        process.stderr.write(`left ${res.refused} alone: their source header names ${res.refusedTopics.join(', ')}, not a configured topic (--to TOPIC replays them there)\n`);
      }
    });
}
