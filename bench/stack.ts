// Uses KAFKA_BROKERS / DATABASE_URL when given; otherwise brings up the local stack (as
// scripts/test.mjs does) and stops it afterwards if this run started it.
import { stackDown, stackUp } from '../tools/stack/index.ts';

export async function withStack(log: (s: string) => void, fn: () => Promise<void>): Promise<void> {
  let started = false;
  if (!process.env.KAFKA_BROKERS || !process.env.DATABASE_URL) {
    log('bringing up the local stack (Kafka + PostgreSQL)...');
    const up = await stackUp({ log });
    process.env.KAFKA_BROKERS = up.kafkaBrokers;
    process.env.DATABASE_URL = up.databaseUrl;
    started = up.started.kafka || up.started.postgres;
  }
  let failed = false;
  try {
    await fn();
  } catch (err) {
    failed = true;
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  } finally {
    if (started) {
      log('stopping the local stack this run started');
      await stackDown({ log });
    }
  }
  process.exit(failed ? 1 : 0);
}
