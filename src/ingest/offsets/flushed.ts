// Kafka's committed offset follows PostgreSQL's stored offset and never leads it, durability
// included. With INGEST_SYNCHRONOUS_COMMIT=off a commit returns before its WAL is flushed, so an
// offset goes to Kafka only once the server has flushed its WAL past that commit: the lane asks
// `flushed()` first. It reads WAL positions and never writes or flushes anything itself; one poll
// serves every waiter, and the WAL writer flushes within three wal_writer_delay (0.6 s by default).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../../db/pool.ts';

/** A pg_lsn's text ('16/B374D848') as a number that orders like the LSN. */
export function lsnOf(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

interface Waiter {
  lsn: bigint;
  resolve(): void;
  reject(err: unknown): void;
}

export class FlushWatch {
  private waiters: Waiter[] = [];
  private polling = false;

  /** `needed` false (synchronous commits): every commit is flushed when it returns, nothing to wait for. */
  constructor(
    private readonly pool: Pool,
    private readonly needed: boolean,
    private readonly pollMs = 50,
  ) {}

  /** Resolves once every transaction that committed before the call is flushed to disk. */
  async flushed(): Promise<void> {
    if (!this.needed) return;
    // The insert position now is past the commit record of every transaction already committed.
    const { rows } = await this.pool.query<{ insert: string; flush: string }>('SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush');
    const target = lsnOf(rows[0]!.insert);
    if (lsnOf(rows[0]!.flush) >= target) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ lsn: target, resolve, reject });
      this.poll();
    });
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    void (async () => {
      try {
        while (this.waiters.length > 0) {
          await sleep(this.pollMs);
          const { rows } = await this.pool.query<{ flush: string }>('SELECT pg_current_wal_flush_lsn()::text AS flush');
          const flush = lsnOf(rows[0]!.flush);
          const done = this.waiters.filter((w) => w.lsn <= flush);
          this.waiters = this.waiters.filter((w) => w.lsn > flush);
          for (const w of done) w.resolve();
        }
      } catch (err) {
        const failed = this.waiters;
        this.waiters = [];
        for (const w of failed) w.reject(err);
      } finally {
        this.polling = false;
      }
    })();
  }
}
