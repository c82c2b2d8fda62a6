// Partition names, built and parsed here only: a day partition is <parent>_pYYYYMMDD (metrics,
// events, metric_rollups); a metrics day is partitioned again by level into
// metrics_pYYYYMMDD_instance and metrics_pYYYYMMDD_app. The leaves that take rows and are
// archived (archive units) are the metrics leaves and the events days.
// (The SQL function orchestry_ensure_day_partition of migration 000004 builds the same names.)
import { isCalendarDay } from './days.ts';

/** Tables partitioned by UTC day. */
export type DayParent = 'metrics' | 'events' | 'metric_rollups';
export const DAY_PARENTS: readonly DayParent[] = ['metrics', 'events', 'metric_rollups'];
/** The levels a metrics day is split into (the app leaf also takes 'system' rows). */
export type Level = 'instance' | 'app';
export const LEVELS: readonly Level[] = ['instance', 'app'];

export interface PartitionName {
  parent: DayParent;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  /** The metrics leaf's level; undefined for a day partition. */
  level: Level | undefined;
}

const NAME = /^(metrics|events|metric_rollups)_p(\d{4})(\d{2})(\d{2})(?:_(instance|app))?$/;

/** Names of archive units (metrics leaves, events days), as a manifest may carry them. */
export const ARCHIVE_UNIT_NAME = /^(metrics|events)_p\d{8}(_instance|_app)?$/;

/** The name of the day partition of `parent` for `day` (YYYY-MM-DD), or of one of its metrics leaves. */
export function partitionName(parent: DayParent, day: string, level?: Level): string {
  return `${parent}_p${day.replace(/-/g, '')}${level ? `_${level}` : ''}`;
}

/** What a partition's name says, or undefined for a table not named <parent>_pYYYYMMDD[_level]. */
export function parsePartitionName(name: string): PartitionName | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const level = m[5] as Level | undefined;
  // Only metrics days have leaves.
  if (level && m[1] !== 'metrics') return undefined;
  const day = `${m[2]}-${m[3]}-${m[4]}`;
  if (!isCalendarDay(day)) return undefined;
  return { parent: m[1] as DayParent, day, level };
}

/**
 * The table ingestion writes a day's rows into and the archive job archives: the instance leaf
 * for metrics (ingestion writes instance-level rows only), the day partition for events.
 */
export const ingestLeafName = (parent: 'metrics' | 'events', day: string): string =>
  parent === 'metrics' ? partitionName('metrics', day, 'instance') : partitionName('events', day);
