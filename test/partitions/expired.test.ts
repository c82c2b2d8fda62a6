// src/partitions/expired.ts against PostgreSQL: which archive units (metrics leaves, events days)
// and rollup days are past their cutoff, restored ones left out unless asked for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addDays, archiveTargets, dayOf, ensureDayPartitions, expiredRollupDays, markRestored, partitionName } from '../../src/partitions/index.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { useFreshDatabase } from './helpers.ts';

let db: TestDatabase;
useFreshDatabase((d) => (db = d));

test('units past their table\'s cutoff are listed, each level of metrics by its own cutoff, restored ones only when asked', async () => {
  const today = dayOf(Date.now());
  const [d10, d40] = [addDays(today, -10), addDays(today, -40)];
  for (const parent of ['metrics', 'events', 'metric_rollups'] as const) await ensureDayPartitions(db.pool, parent, [d10, d40]);
  const cutoffs = { instance: 7, app: 30, events: 30 };
  const names = (ts: { partition: string }[]) => ts.map((t) => t.partition).sort();
  assert.deepEqual(names(await archiveTargets(db.pool, cutoffs)), [
    partitionName('events', d40),
    partitionName('metrics', d10, 'instance'),
    partitionName('metrics', d40, 'app'),
    partitionName('metrics', d40, 'instance'),
  ].sort());
  const leaf = (await archiveTargets(db.pool, cutoffs)).find((t) => t.partition === partitionName('metrics', d40, 'app'));
  assert.deepEqual(leaf, { parent: partitionName('metrics', d40), partition: partitionName('metrics', d40, 'app'), table: 'metrics', level: 'app', day: d40 });
  await markRestored(db.pool, partitionName('events', d40));
  assert.ok(!names(await archiveTargets(db.pool, cutoffs)).includes(partitionName('events', d40)));
  assert.ok(names(await archiveTargets(db.pool, cutoffs, true)).includes(partitionName('events', d40)));
  assert.deepEqual((await expiredRollupDays(db.pool, 30)).map((p) => [p.name, p.day]), [[partitionName('metric_rollups', d40), d40]]);
  assert.deepEqual((await expiredRollupDays(db.pool, 5)).map((p) => p.day).sort(), [d40, d10].sort());
});
