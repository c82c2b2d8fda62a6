// Job `retention`: the seed's cleanup_old_data rules, applied to whole partitions (never a mass
// DELETE): events older than RETENTION_EVENTS_DAYS, instance-level metrics older than
// RETENTION_METRICS_INSTANCE_DAYS, app-level metrics and rollups older than
// RETENTION_METRICS_APP_DAYS. A partition goes when its whole day is past the cutoff (so up to a
// day more than the retention is kept). Each is detached CONCURRENTLY, then dropped; with
// ARCHIVE_BEFORE_DROP it is archived instead (src/archive/partition.ts). Event days are summarised
// into events_compressed first. Stopped instances older than RETENTION_STOPPED_INSTANCES_DAYS (a small
// table) are deleted, and so are placeholder applications never registered (PLACEHOLDER_APPS_TTL_HOURS).
// The worker's own history is kept bounded too: finished job_runs older than RETENTION_JOB_RUNS_DAYS
// (each job's newest finished run stays) and ingest_dead_letters records older than
// RETENTION_DEAD_LETTERS_DAYS.
import { z } from 'zod';
import { summariseEventsDay } from '../archive/event-summaries.ts';
import { archivePartition } from '../archive/partition.ts';
import { deleteOldDeadLetterRecords } from '../ingest/dead-letters/dead-letters.ts';
import { expirePlaceholderApps } from '../ingest/write/placeholder-apps.ts';
import { archiveTargets, detachAndDrop, dropEmptyMetricDays, expiredRollupDays } from '../partitions/index.ts';
import { checkAborted, defineJob } from './job.ts';
import { deleteOldRuns } from './runs.ts';

export const retentionJob = defineJob({
  name: 'retention',
  description: 'drop (or archive, with ARCHIVE_BEFORE_DROP) partitions past retention; delete old stopped instances',
  params: z.strictObject({}),
  async run(ctx) {
    const { pool, config } = ctx;
    const r = config.retention;
    const targets = await archiveTargets(pool, { instance: r.metricsInstanceDays, app: r.metricsAppDays, events: r.eventsDays });
    const dropped: string[] = [];
    for (const [i, t] of targets.entries()) {
      checkAborted(ctx.signal);
      if (r.archiveBeforeDrop) {
        await archivePartition(ctx, t);
      } else {
        if (t.table === 'events') await summariseEventsDay(pool, t.day);
        await detachAndDrop(pool, t.parent, t.partition);
      }
      dropped.push(t.partition);
      ctx.progress({ partition: t.partition, done: i + 1, total: targets.length });
    }
    const emptyDays = await dropEmptyMetricDays(pool);
    for (const p of await expiredRollupDays(pool, r.metricsAppDays)) {
      await detachAndDrop(pool, 'metric_rollups', p.name);
      dropped.push(p.name);
    }
    const { rowCount } = await pool.query(
      `DELETE FROM instances WHERE status = 'stopped' AND updated_at < now() - make_interval(days => $1)`,
      [r.stoppedInstancesDays],
    );
    const instances = rowCount ?? 0;
    const placeholderApps = await expirePlaceholderApps(pool, config.placeholderApps.ttlHours);
    const jobRuns = await deleteOldRuns(pool, r.jobRunsDays);
    const deadLetters = await deleteOldDeadLetterRecords(pool, r.deadLettersDays);
    return {
      rowsAffected: dropped.length + instances + placeholderApps + jobRuns + deadLetters,
      details: {
        dropped,
        emptyMetricDays: emptyDays,
        stoppedInstancesDeleted: instances,
        placeholderAppsExpired: placeholderApps,
        jobRunsDeleted: jobRuns,
        deadLetterRecordsDeleted: deadLetters,
      },
    };
  },
});
