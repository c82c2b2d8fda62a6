// Ingestion's view of partitions: before a chunk is written, every UTC day it touches must have
// its partition (late data inside retention included), made outside the chunk's transaction
// through the same lock-timeout and retry path as the jobs. A day that was archived
// (archive_ledger), is left detached, or cannot be made is reported unavailable: its rows are
// dead-lettered (E_OUT_OF_RANGE) rather than retried against a missing partition.
import type { Pool } from '../db/pool.ts';
import { sqlState } from '../errors.ts';
import { isArchived, isAttached } from './catalog.ts';
import { DAY_MS, dayOf } from './days.ts';
import { ensureDayPartitions, type LockOptions } from './ddl.ts';
import { ingestLeafName, partitionName } from './names.ts';

export type IngestParent = 'metrics' | 'events';

/** What the writer needs of partitions. */
export interface Partitions {
  /** Makes the days of `timestampsMs` (and today's events); returns the days ("YYYY-MM-DD") that cannot take rows. */
  ensureDays(parent: IngestParent, timestampsMs: number[]): Promise<Set<string>>;
  /** Forgets what was ensured (after a partition was dropped or detached under us). */
  forget(): void;
}

export interface DayPartitionsOptions extends LockOptions {
  /** The clock for today's events day (tests). */
  now?: () => number;
}

// 42P17: bounds overlap another partition; 42809: a table of another kind took the name; 22008: date out of range.
const UNMAKEABLE = new Set(['42P17', '42809', '22008']);

export class DayPartitions implements Partitions {
  /** "parent:YYYY-MM-DD" of the days known to take rows. */
  private ensured = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly options: DayPartitionsOptions = {},
  ) {}

  async ensureDays(parent: IngestParent, timestampsMs: number[]): Promise<Set<string>> {
    // A chunk's thousand timestamps fall on a day or two: each distinct day is named once.
    const dayNumbers = new Set<number>();
    for (const ms of timestampsMs) dayNumbers.add(Math.floor(ms / DAY_MS));
    const wanted = new Map<string, [IngestParent, string]>();
    const want = (table: IngestParent, day: string) => wanted.set(`${table}:${day}`, [table, day]);
    for (const d of dayNumbers) want(parent, dayOf(d * DAY_MS));
    // Placeholder-registration events are stamped with the current time.
    want('events', dayOf((this.options.now ?? Date.now)()));
    const unavailable = new Set<string>();
    for (const [key, [table, day]] of wanted) {
      if (this.ensured.has(key)) continue;
      if (await this.ensureDay(table, day)) this.ensured.add(key);
      else if (table === parent) unavailable.add(day);
    }
    return unavailable;
  }

  forget(): void {
    this.ensured = new Set();
  }

  /** Whether rows of `day` can go to `parent`: archived days are refused before anything is made. */
  private async ensureDay(parent: IngestParent, day: string): Promise<boolean> {
    const leaf = ingestLeafName(parent, day);
    if (await isArchived(this.pool, leaf)) return false;
    try {
      await ensureDayPartitions(this.pool, parent, [day], undefined, this.options);
    } catch (err) {
      if (!UNMAKEABLE.has(sqlState(err) ?? '')) throw err;
      return false;
    }
    // A table of the day's name left detached (an archive in progress) exists but takes no rows.
    const part = partitionName(parent, day);
    return (await isAttached(this.pool, parent, part)) && (part === leaf || (await isAttached(this.pool, part, leaf)));
  }
}
