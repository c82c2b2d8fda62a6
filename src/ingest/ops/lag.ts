// Consumer lag per topic-partition: the log end offset (from the broker) minus the stored offset
// (from ingest_offsets, which is where the consumer's position really lives: Kafka's committed
// offset follows PostgreSQL). Refreshed periodically into metrics.consumerLag by a loop that never
// throws: a failed refresh is logged, counted, and retried after a longer pause. The time lag of a
// partition with messages waiting is now minus the producer timestamp of the oldest one (lag-time.ts).
import type { Pool } from '../../db/pool.ts';
import { errorMessage } from '../../errors.ts';
import type { Admin } from '../../kafka/client.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { timestampAt } from './lag-time.ts';

export interface LagMonitorDeps {
  /** A connected kafkajs admin client: log end offsets, and the offset-by-timestamp lookup. */
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp'>;
  pool: Pool;
  metrics: Metrics;
  topics: string[];
  intervalMs: number;
  logger: Logger;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Log end offset (high watermark). */
  end: number;
  /** Next offset to store, or undefined when nothing was ever stored for the partition. */
  stored: number | undefined;
  lag: number;
  /** Seconds since the producer timestamp of the oldest unconsumed message; 0 when none waits. */
  seconds: number;
}

const SELECT_STORED = 'SELECT topic, partition, next_offset FROM ingest_offsets WHERE topic = ANY($1::text[])';

/** The lag of every partition of `topics`, in messages and seconds (reads only; `status` uses it too). */
export async function computeLag(deps: Pick<LagMonitorDeps, 'admin' | 'pool' | 'topics'>): Promise<PartitionLag[]> {
  const { admin, pool, topics } = deps;
  const offsets = await Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.fetchTopicOffsets(topic) })));
  const { rows } = await pool.query<{ topic: string; partition: number; next_offset: number | string }>(SELECT_STORED, [topics]);
  const stored = new Map(rows.map((r) => [`${r.topic}\0${r.partition}`, Number(r.next_offset)]));
  const out: PartitionLag[] = [];
  for (const { topic, partitions } of offsets) {
    for (const p of partitions) {
      const end = Number(p.high);
      const s = stored.get(`${topic}\0${p.partition}`);
      // Absent: everything still on the log is unconsumed. Clamped at 0: a stored offset beyond the
      // end means the topic was recreated, which the consumer reports on its own.
      const lag = Math.max(0, end - (s ?? Number(p.low)));
      out.push({ topic, partition: p.partition, end, stored: s, lag, seconds: 0 });
    }
  }
  const now = Date.now();
  await Promise.all(
    out.map(async (l) => {
      if (l.lag > 0) l.seconds = Math.max(0, now - (await timestampAt(admin, l.topic, l.partition, l.end - l.lag, now))) / 1000;
    }),
  );
  return out;
}

/** One refresh: computes and records the lag of every partition of `topics`. */
export async function refreshLag(deps: Omit<LagMonitorDeps, 'intervalMs' | 'logger'>): Promise<PartitionLag[]> {
  const out = await computeLag(deps);
  for (const l of out) {
    deps.metrics.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    deps.metrics.consumerLagSeconds.set({ topic: l.topic, partition: String(l.partition) }, l.seconds);
  }
  return out;
}

/** Refreshes the lag now and every `intervalMs`; `stop()` waits for a refresh in flight. */
export function startLagMonitor(deps: LagMonitorDeps): { stop(): Promise<void> } {
  const log = deps.logger.child({ component: 'lag' });
  const maxBackoffMs = Math.max(deps.intervalMs * 8, 60_000);
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const tick = (): void => {
    timer = undefined;
    inFlight = (async () => {
      try {
        await refreshLag(deps);
        deps.metrics.lagRefreshes.inc({ outcome: 'ok' });
        deps.metrics.lagLastRefresh.set(Date.now() / 1000);
        if (failures > 0) log.info({ failures }, 'consumer lag refresh recovered');
        failures = 0;
      } catch (err) {
        failures += 1;
        deps.metrics.lagRefreshes.inc({ outcome: 'error' });
        // Warn on the first failure of a streak, then every tenth, so an outage does not flood the log.
        if (failures === 1 || failures % 10 === 0) log.warn({ err, failures }, `consumer lag refresh failed: ${errorMessage(err)}`);
      }
    })();
    void inFlight.finally(() => {
      inFlight = undefined;
      if (stopped) return;
      const delay = failures === 0 ? deps.intervalMs : Math.min(maxBackoffMs, deps.intervalMs * 2 ** Math.min(failures, 10));
      timer = setTimeout(tick, delay);
      timer.unref();
    });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
  };
}
