// Which partitions are past their cutoff: the archive units (metrics leaves, events days) whose
// whole day is older than their table's cutoff, and the expired days of metric_rollups. Read by
// the retention and archive jobs and by `status`; restored partitions are left out unless asked.
import type { Pool } from '../db/pool.ts';
import { dbToday, listChildren, restoredTables, type ChildPartition } from './catalog.ts';
import { dayExpired } from './days.ts';
import type { Level } from './names.ts';

export interface ArchiveTarget {
  /** The table the partition hangs from: events, or the metrics day partition for a leaf. */
  parent: string;
  partition: string;
  table: 'metrics' | 'events';
  level: Level | null;
  day: string;
}

/** Cutoffs in days: instance- and app-level metrics, events. */
export interface Cutoffs {
  instance: number;
  app: number;
  events: number;
}

/** Partitions of metrics (leaves) and events whose day is entirely older than their cutoff (restored ones only when asked). */
export async function archiveTargets(pool: Pool, cutoffDays: Cutoffs, includeRestored = false): Promise<ArchiveTarget[]> {
  const { now } = await dbToday(pool);
  const skip = includeRestored ? new Set<string>() : await restoredTables(pool);
  const out: ArchiveTarget[] = [];
  for (const dayPart of await listChildren(pool, 'metrics')) {
    if (!dayPart.day || !dayPart.partitioned) continue;
    for (const leaf of await listChildren(pool, dayPart.name)) {
      if (leaf.level && !skip.has(leaf.name) && dayExpired(dayPart.day, now, cutoffDays[leaf.level])) {
        out.push({ parent: dayPart.name, partition: leaf.name, table: 'metrics', level: leaf.level, day: dayPart.day });
      }
    }
  }
  for (const p of await listChildren(pool, 'events')) {
    if (p.day && !skip.has(p.name) && dayExpired(p.day, now, cutoffDays.events)) out.push({ parent: 'events', partition: p.name, table: 'events', level: null, day: p.day });
  }
  return out;
}

/** The day partitions of metric_rollups whose whole day is older than `days`. */
export async function expiredRollupDays(pool: Pool, days: number): Promise<(ChildPartition & { day: string })[]> {
  const { now } = await dbToday(pool);
  return (await listChildren(pool, 'metric_rollups')).filter((p): p is ChildPartition & { day: string } => p.day !== undefined && dayExpired(p.day, now, days));
}
