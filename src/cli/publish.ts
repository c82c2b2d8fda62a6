// publish: sends JSON lines from stdin (or a file) to a contract topic, keyed as the contract says.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createKafka } from '../kafka/client.ts';
import { configOrExit } from './context.ts';

export function registerPublishCommands(program: Command): void {
  program
    .command('publish')
    .description('publish JSON lines (one message each) to the stats or lifecycle topic; key = container_id, else app')
    .argument('<topic>', 'stats | lifecycle | a topic name')
    .option('--file <path>', 'read from this file instead of stdin')
    .action(async (topicArg: string, opts: { file?: string }) => {
      const config = configOrExit({ require: ['KAFKA_BROKERS'] });
      const topic = topicArg === 'stats' ? config.kafka.topics.stats : topicArg === 'lifecycle' ? config.kafka.topics.lifecycle : topicArg;
      const producer = createKafka(config.kafka).producer({ allowAutoTopicCreation: false });
      await producer.connect();
      let sent = 0;
      try {
        const lines = createInterface({ input: opts.file ? createReadStream(opts.file) : process.stdin, crlfDelay: Infinity });
        let batch: { key: string | null; value: string }[] = [];
        const flush = async () => {
          if (batch.length === 0) return;
          await producer.send({ topic, acks: -1, messages: batch });
          sent += batch.length;
          batch = [];
        };
        for await (const line of lines) {
          if (line.trim() === '') continue;
          let key: string | null = null;
          try {
            const v = JSON.parse(line) as { container_id?: unknown; app?: unknown };
            key = typeof v.container_id === 'string' ? v.container_id : typeof v.app === 'string' ? v.app : null;
          } catch {
            // not JSON: sent as is (the worker dead-letters it with E_JSON)
          }
          batch.push({ key, value: line });
          if (batch.length >= 500) await flush();
        }
        await flush();
      } finally {
        await producer.disconnect();
      }
      process.stderr.write(`published ${sent} message(s) to ${topic}\n`);
    });
}
