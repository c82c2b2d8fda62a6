// Job `archive`: partitions older than a cutoff (each table's retention by default) are archived
// one by one (src/archive/partition.ts: detach, export to ARCHIVE_URL, read back and verify,
// drop, each step in archive_ledger), unfinished archives first, whatever their age. Units are
// metrics leaves (metrics_pYYYYMMDD_instance / _app) and events day partitions; metrics days left
// without leaves are dropped after. A partition restored by `archive restore` is left alone
// unless include_restored is given.
import { z } from 'zod';
import { archivePartition, pendingTargets } from '../archive/partition.ts';
import { archiveTargets, DAY_MS, dropEmptyMetricDays } from '../partitions/index.ts';
import { checkAborted, defineJob, duration } from './job.ts';

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** The archive job's parameters: `older_than` has a floor of one day unless `force` is given. */
export const archiveParams = z
  .strictObject({ older_than: duration.optional(), force: flag.optional(), include_restored: flag.optional() })
  .refine((p) => p.older_than === undefined || p.older_than >= DAY_MS || p.force === true, {
    message: 'must be at least 1d (a shorter cutoff archives and drops today\'s data); pass force to go lower',
    path: ['older_than'],
  });

export const archiveJob = defineJob({
  name: 'archive',
  description: 'detach, export (Parquet or COPY gzip + manifest to ARCHIVE_URL), read back and verify, then drop partitions older than a cutoff',
  params: archiveParams,
  async run(ctx, params) {
    const r = ctx.config.retention;
    const days = params.older_than !== undefined ? params.older_than / DAY_MS : undefined;
    const cutoff = { instance: days ?? r.metricsInstanceDays, app: days ?? r.metricsAppDays, events: days ?? r.eventsDays };
    // Unfinished archives first (whatever their age), then everything past the cutoff.
    const targets = await pendingTargets(ctx.pool);
    for (const t of await archiveTargets(ctx.pool, cutoff, params.include_restored === true)) if (!targets.some((x) => x.partition === t.partition)) targets.push(t);
    let rows = 0;
    for (const [i, t] of targets.entries()) {
      checkAborted(ctx.signal);
      rows += await archivePartition(ctx, t);
      ctx.progress({ partition: t.partition, done: i + 1, total: targets.length, rows });
    }
    const emptyDays = await dropEmptyMetricDays(ctx.pool);
    return { rowsAffected: rows, details: { partitions: targets.map((t) => t.partition), emptyDaysDropped: emptyDays } };
  },
});
