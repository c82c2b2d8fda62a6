// Placeholder applications (telemetry for an app never registered) are capped at
// PLACEHOLDER_APPS_MAX: past the cap, a new unknown app's messages are dead-lettered
// (E_PLACEHOLDER_LIMIT). Placeholders never registered expire after PLACEHOLDER_APPS_TTL_HOURS.
// Owns the cache of applications known to exist, shared by every partition of a worker.
import type { Pool } from '../../db/pool.ts';
import type { Item } from '../chunk/item.ts';

const IS_PLACEHOLDER = `spec @> '{"placeholder": true}'`;

/**
 * Applications known to exist (their chunks skip the placeholder check). Forgotten every `ttlMs`
 * (an application may be deleted by retention meanwhile), on access: no timer to stop.
 */
export class KnownApps {
  private apps = new Set<string>();
  private since: number;

  constructor(
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.since = now();
  }

  private fresh(): Set<string> {
    const t = this.now();
    if (t - this.since >= this.ttlMs) {
      this.apps.clear();
      this.since = t;
    }
    return this.apps;
  }

  has(app: string): boolean {
    return this.fresh().has(app);
  }

  add(app: string): void {
    this.fresh().add(app);
  }

  clear(): void {
    this.apps.clear();
    this.since = this.now();
  }
}

/** The app a live item would need a placeholder for (app.registered makes the app itself). */
function appNeeded(i: Item): string | undefined {
  if (i.rejected) return undefined;
  if (i.stats) return i.stats.app;
  return i.lifecycle && i.lifecycle.type !== 'app.registered' ? i.lifecycle.app : undefined;
}

export interface PlaceholderCheck {
  /** Items refused (already marked rejected): their app would be a placeholder past the cap. */
  refused: Item[];
  /** Placeholders counted (when any new app was seen), for the gauge. */
  placeholders: number | undefined;
}

/**
 * Refuses the items whose application does not exist and cannot be made a placeholder under the
 * cap. Apps found existing join `known`. Concurrent workers may overshoot the cap by what they
 * admit at the same moment (one chunk each).
 */
export async function capPlaceholderApps(pool: Pool, items: Item[], known: KnownApps, max: number): Promise<PlaceholderCheck> {
  const registeredHere = new Set(items.flatMap((i) => (i.lifecycle?.type === 'app.registered' && !i.rejected ? [i.lifecycle.app] : [])));
  const candidates = [...new Set(items.map(appNeeded))].filter((a): a is string => a !== undefined && !known.has(a) && !registeredHere.has(a));
  if (candidates.length === 0) return { refused: [], placeholders: undefined };
  const { rows } = await pool.query<{ name: string }>('SELECT name FROM applications WHERE name = ANY($1::text[])', [candidates]);
  const existing = new Set(rows.map((r) => r.name));
  for (const app of existing) known.add(app);
  const missing = candidates.filter((a) => !existing.has(a)).sort();
  if (missing.length === 0) return { refused: [], placeholders: undefined };
  const { rows: c } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM applications WHERE ${IS_PLACEHOLDER}`);
  const count = c[0]!.n;
  const over = new Set(missing.slice(Math.max(0, max - count)));
  const refused = items.filter((i) => {
    const app = appNeeded(i);
    if (app === undefined || !over.has(app)) return false;
    i.rejected = { code: 'E_PLACEHOLDER_LIMIT', message: `app ${app} is not registered and PLACEHOLDER_APPS_MAX (${max}) placeholder applications exist: register it with app.registered` };
    return true;
  });
  return { refused, placeholders: count + missing.length - over.size };
}

/**
 * Deletes placeholders never registered, older than `ttlHours`, with no instance and no metrics
 * row within the TTL (their events keep their rows, app_name set to NULL). Returns how many.
 */
export async function expirePlaceholderApps(pool: Pool, ttlHours: number): Promise<number> {
  const { rowCount } = await pool.query(
    `DELETE FROM applications a
     WHERE ${IS_PLACEHOLDER} AND a.created_at < now() - make_interval(hours => $1)
       AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.app_name = a.name)
       AND NOT EXISTS (SELECT 1 FROM metrics m WHERE m.app_name = a.name AND m.timestamp > now() - make_interval(hours => $1))`,
    [ttlHours],
  );
  return rowCount ?? 0;
}
