// UTC day arithmetic, the one place that knows how long a day is: the day ("YYYY-MM-DD") of an
// instant, a day's start and end, days apart, and whether a day lies wholly before a cutoff.
// Partitions are by UTC day, so every day here is a UTC day.

/** Milliseconds in a UTC day (no leap seconds in JavaScript or PostgreSQL time). */
export const DAY_MS = 86_400_000;

const DAY_SHAPE = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC day ("YYYY-MM-DD") holding the instant `ms` (epoch milliseconds). */
export const dayOf = (ms: number): string => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

/** The instant (epoch ms) `day` starts, at 00:00 UTC. */
export const dayStartMs = (day: string): number => Date.parse(`${day}T00:00:00Z`);

/** The instant (epoch ms) `day` ends: the next day's start (exclusive). */
export const dayEndMs = (day: string): number => dayStartMs(day) + DAY_MS;

/** `day` as the half-open range [from, to) of instants, for SQL parameters. */
export const dayRange = (day: string): { from: Date; to: Date } => ({ from: new Date(dayStartMs(day)), to: new Date(dayEndMs(day)) });

/** `day` plus `n` days (n may be negative). */
export const addDays = (day: string, n: number): string => dayOf(dayStartMs(day) + n * DAY_MS);

/** True for a real calendar day written YYYY-MM-DD (not 2026-02-30, not 2026-13-01). */
export const isCalendarDay = (day: string): boolean =>
  DAY_SHAPE.test(day) && !Number.isNaN(dayStartMs(day)) && new Date(dayStartMs(day)).toISOString().startsWith(day);

/** The days touched by the instants in [fromMs, toMs), in order. */
export function daysBetween(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  if (fromMs >= toMs) return out;
  for (let d = Math.floor(fromMs / DAY_MS) * DAY_MS; d < toMs; d += DAY_MS) out.push(dayOf(d));
  return out;
}

/** True when every instant of `day` is older than `now - days` (the day ended by the cutoff). */
export const dayExpired = (day: string, now: Date, days: number): boolean => dayEndMs(day) <= now.getTime() - days * DAY_MS;
