// What the operator commands (status, offsets) need: the configuration, a Kafka admin client and a
// pool, connected for one call and closed after it.
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { createKafka, type Admin } from '../kafka/client.ts';
import { brokersFor, configOrExit, poolFor, readPoolFor } from './context.ts';

/** Runs `fn` with an admin client and a pool (on the read replica when `readOnly` and one is set). */
export async function withKafkaAndDb(appName: string, readOnly: boolean, fn: (deps: { admin: Admin; pool: Pool; config: Config }) => Promise<void>): Promise<void> {
  const config = configOrExit();
  const brokers = brokersFor(config);
  const pool = readOnly ? readPoolFor(config, appName) : poolFor(config, appName);
  const admin = createKafka({ ...config.kafka, brokers }, undefined, { retries: 2 }).admin();
  await admin.connect();
  try {
    await fn({ admin, pool, config });
  } finally {
    await Promise.allSettled([admin.disconnect(), pool.end()]);
  }
}
