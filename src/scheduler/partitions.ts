// Job `partitions`: daily partitions of metrics, events and metric_rollups from the oldest day
// inside retention to PARTITIONS_AHEAD_DAYS ahead; idempotent; never a DEFAULT partition (rows
// for a day without a partition fail loudly instead of blocking later partition creation).
// Partitions that were archived are not made again (the archive ledger says which).
import { z } from 'zod';
import type { Pool } from '../db/pool.ts';
import { sqlState } from '../errors.ts';
import { addDays, dayExpired, dbToday, LOCK_TIMEOUT_MS, partitionName, type DayParent } from './ddl.ts';
import { defineJob } from './job.ts';
import { withClient } from '../db/tx.ts';
import { setTimeout as sleep } from 'node:timers/promises';

type Level = 'instance' | 'app';

/**
 * Makes the partitions of `parent` for `days` (YYYY-MM-DD, UTC) if missing; for metrics `levels`
 * picks the leaves (default both). Safe to call from ingestion and from several sessions at once.
 */
export async function ensureDayPartitions(pool: Pool, parent: DayParent, days: string[], levels: Level[] = ['instance', 'app']): Promise<void> {
  await withClient(pool, async (c) => {
    await c.query(`SELECT set_config('lock_timeout', $1, false)`, [`${LOCK_TIMEOUT_MS}ms`]);
    try {
      for (const day of days) {
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query('SELECT orchestry_ensure_day_partition($1, $2::date, $3::text[])', [parent, day, levels]);
            break;
          } catch (err) {
            if (sqlState(err) !== '55P03' || attempt >= 8) throw err;
            await sleep(250 * 2 ** attempt);
          }
        }
      }
    } finally {
      await c.query('RESET lock_timeout');
    }
  });
}

export const partitionsJob = defineJob({
  name: 'partitions',
  description: 'make the daily partitions of metrics, events and rollups ahead of time and any missing one inside retention',
  params: z.strictObject({ ahead_days: z.coerce.number().int().min(0).max(90).optional() }),
  async run(ctx, params) {
    const { pool, config } = ctx;
    const r = config.retention;
    const ahead = params.ahead_days ?? config.partitionsAheadDays;
    const { today, now } = await dbToday(pool);
    const { rows } = await pool.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relname ~ '^(metrics|events|metric_rollups)_p[0-9]{8}'
       UNION SELECT partition FROM archive_ledger`,
    );
    const have = new Set(rows.map((x) => x.name));
    let created = 0;
    const plan: { parent: DayParent; keep: number; levels: (day: string) => Level[] | undefined }[] = [
      {
        parent: 'metrics',
        keep: Math.max(r.metricsInstanceDays, r.metricsAppDays),
        levels: (day) => {
          const want: Level[] = [];
          if (!dayExpired(day, now, r.metricsInstanceDays)) want.push('instance');
          if (!dayExpired(day, now, r.metricsAppDays)) want.push('app');
          const missing = want.filter((l) => !have.has(partitionName('metrics', day, l)));
          return missing.length > 0 ? missing : undefined;
        },
      },
      { parent: 'events', keep: r.eventsDays, levels: (day) => (dayExpired(day, now, r.eventsDays) || have.has(partitionName('events', day)) ? undefined : []) },
      {
        parent: 'metric_rollups',
        keep: r.metricsAppDays,
        levels: (day) => (dayExpired(day, now, r.metricsAppDays) || have.has(partitionName('metric_rollups', day)) ? undefined : []),
      },
    ];
    for (const p of plan) {
      for (let i = -p.keep; i <= ahead; i++) {
        const day = addDays(today, i);
        const levels = p.levels(day);
        if (!levels) continue;
        await ensureDayPartitions(pool, p.parent, [day], p.parent === 'metrics' ? levels : undefined);
        created += p.parent === 'metrics' ? levels.length : 1;
        ctx.progress({ parent: p.parent, day, created });
      }
    }
    return { rowsAffected: created, details: { created } };
  },
});
