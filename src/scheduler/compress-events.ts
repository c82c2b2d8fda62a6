// Job `compress-events`: keeps the hourly summaries of events_compressed (see
// src/archive/event-summaries.ts) up to date, from the start of the UTC day `since` ago (default
// 2 days) up to the current, incomplete hour, a day per statement.
import { z } from 'zod';
import { compressEvents } from '../archive/event-summaries.ts';
import { DAY_MS } from '../partitions/index.ts';
import { defineJob, duration } from './job.ts';

export const compressEventsJob = defineJob({
  name: 'compress-events',
  description: 'hourly event summaries (count, counts per severity, 5 latest distinct messages) into events_compressed',
  params: z.strictObject({ since: duration.optional() }),
  async run(ctx, params) {
    const since = params.since ?? 2 * DAY_MS;
    // From the start of the UTC day `since` ago up to the current (incomplete) hour.
    const { rows } = await ctx.pool.query<{ from: Date; to: Date }>(
      `SELECT date_bin('1 day', now() - make_interval(secs => $1::float8 / 1000), timestamptz '2000-01-01 00:00:00+00') AS from,
              date_bin('1 hour', now(), timestamptz '2000-01-01 00:00:00+00') AS to`,
      [since],
    );
    const { from, to } = rows[0]!;
    let n = 0;
    // Hour by hour in steps of a day keeps each statement short.
    for (let a = from.getTime(); a < to.getTime(); a += DAY_MS) {
      n += await compressEvents(ctx.pool, new Date(a), new Date(Math.min(a + DAY_MS, to.getTime())));
      ctx.progress({ through: new Date(Math.min(a + DAY_MS, to.getTime())).toISOString(), written: n });
    }
    return { rowsAffected: n, details: { from: from.toISOString(), to: to.toISOString() } };
  },
});
