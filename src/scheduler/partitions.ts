// Job `partitions`: daily partitions of metrics, events and metric_rollups from the oldest day
// inside retention to PARTITIONS_AHEAD_DAYS ahead; idempotent; never a DEFAULT partition (rows
// for a day without a partition fail loudly instead of blocking later partition creation).
// Partitions that were archived are not made again (the archive ledger says which). The DDL, with
// its lock timeout and retries, is src/partitions/ddl.ts.
import { z } from 'zod';
import { addDays, dayExpired, dbToday, ensureDayPartitions, existingOrArchived, partitionName, type DayParent, type Level } from '../partitions/index.ts';
import { defineJob } from './job.ts';

export const partitionsJob = defineJob({
  name: 'partitions',
  description: 'make the daily partitions of metrics, events and rollups ahead of time and any missing one inside retention',
  params: z.strictObject({ ahead_days: z.coerce.number().int().min(0).max(90).optional() }),
  async run(ctx, params) {
    const { pool, config } = ctx;
    const r = config.retention;
    const ahead = params.ahead_days ?? config.partitionsAheadDays;
    const { today, now } = await dbToday(pool);
    const have = await existingOrArchived(pool);
    const missing = (parent: DayParent, day: string, keepDays: number) => !dayExpired(day, now, keepDays) && !have.has(partitionName(parent, day));
    let created = 0;
    const plan: { parent: DayParent; keep: number; levels: (day: string) => Level[] | undefined }[] = [
      {
        parent: 'metrics',
        keep: Math.max(r.metricsInstanceDays, r.metricsAppDays),
        levels: (day) => {
          const want: Level[] = [];
          if (!dayExpired(day, now, r.metricsInstanceDays)) want.push('instance');
          if (!dayExpired(day, now, r.metricsAppDays)) want.push('app');
          const leaves = want.filter((l) => !have.has(partitionName('metrics', day, l)));
          return leaves.length > 0 ? leaves : undefined;
        },
      },
      { parent: 'events', keep: r.eventsDays, levels: (day) => (missing('events', day, r.eventsDays) ? [] : undefined) },
      { parent: 'metric_rollups', keep: r.metricsAppDays, levels: (day) => (missing('metric_rollups', day, r.metricsAppDays) ? [] : undefined) },
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
