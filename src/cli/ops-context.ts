// What the operator commands (status, offsets) need: the configuration, a Kafka admin client and a
// pool, connected for one call and closed after it.
import type { Config, ConfigWith } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { createKafka, type Admin } from '../kafka/client.ts';
import { configOrExit, poolFor, readPoolFor } from './context.ts';

/** Runs `fn` with an admin client and a pool (on the read replica when `readOnly` and one is set). */
export async function withKafkaAndDb(appName: string, readOnly: boolean, fn: (deps: { admin: Admin; pool: Pool; config: Config }) => Promise<void>): Promise<void> {
  let config: ConfigWith<'KAFKA_BROKERS'>;
  let pool: Pool;
  if (readOnly) {
    const c = configOrExit({ require: ['KAFKA_BROKERS', 'DATABASE_READ'] });
    [config, pool] = [c, readPoolFor(c, appName)];
  } else {
    const c = configOrExit({ require: ['KAFKA_BROKERS', 'DATABASE_URL'] });
    [config, pool] = [c, poolFor(c, appName)];
  }
  const admin = createKafka(config.kafka, undefined, { retries: 2 }).admin();
  await admin.connect();
  try {
    await fn({ admin, pool, config });
  } finally {
    await Promise.allSettled([admin.disconnect(), pool.end()]);
  }
}
