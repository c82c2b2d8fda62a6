// Moving stored offsets (ingest_offsets) for operators: the plan, then the move through the same
// compare-and-set workers use, so a live worker's batch in flight fails its own compare-and-set,
// rolls back and seeks to the new position; it never writes over it. Kafka's group offsets follow.
import type { Pool } from '../../db/pool.ts';
import type { Admin } from '../../kafka/client.ts';
import { committedOffsets, describeGroup, holderOf } from '../../kafka/group.ts';

export type ResetTarget = { kind: 'latest' } | { kind: 'time'; ms: number } | { kind: 'offset'; offset: number };

export type ResetAdmin = Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp' | 'describeGroups' | 'fetchOffsets' | 'setOffsets'>;

export interface PartitionMove {
  partition: number;
  /** Log start and end offsets. */
  low: number;
  high: number;
  /** Next offset stored in PostgreSQL (undefined: never stored). */
  stored: number | undefined;
  target: number;
  /** Kafka's committed offset of the group (-1: none). */
  committed: number;
  /** `clientId@host` of the live member holding the partition, if any. */
  heldBy: string | undefined;
}

export interface ResetPlan {
  topic: string;
  groupId: string;
  groupState: string;
  liveMembers: number;
  moves: PartitionMove[];
}

export interface ResetResult {
  moved: { partition: number; from: number | undefined; to: number }[];
  /** `set`: Kafka's group offsets were set here; `follow`: live members commit them after their next batch. */
  kafka: 'set' | 'follow';
}

/** The target offset of each partition, checked against the log. */
async function targets(admin: ResetAdmin, topic: string, target: ResetTarget, logs: { partition: number; low: number; high: number }[]): Promise<Map<number, number>> {
  if (target.kind === 'latest') return new Map(logs.map((l) => [l.partition, l.high]));
  if (target.kind === 'time') {
    const found = await admin.fetchTopicOffsetsByTimestamp(topic, target.ms);
    return new Map(found.map((f) => [f.partition, Number(f.offset)]));
  }
  for (const l of logs) {
    if (target.offset < l.low || target.offset > l.high) {
      throw new Error(`--to-offset ${target.offset} is outside partition ${l.partition} of ${topic}: its log holds offsets ${l.low}..${l.high} (end)`);
    }
  }
  return new Map(logs.map((l) => [l.partition, target.offset]));
}

async function storedOffsets(pool: Pool, topic: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ partition: number; next_offset: string }>('SELECT partition, next_offset FROM ingest_offsets WHERE topic = $1', [topic]);
  return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
}

/** What a reset of `topic` (all partitions, or `partitions`) to `target` would move. Reads only. */
export async function planReset(deps: { admin: ResetAdmin; pool: Pool }, groupId: string, topic: string, target: ResetTarget, partitions?: number[]): Promise<ResetPlan> {
  const { admin, pool } = deps;
  const all = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }));
  for (const p of partitions ?? []) {
    if (!all.some((l) => l.partition === p)) throw new Error(`${topic} has no partition ${p} (it has ${all.length})`);
  }
  const logs = all.filter((l) => !partitions || partitions.includes(l.partition)).sort((a, b) => a.partition - b.partition);
  const [to, stored, group, committed] = await Promise.all([targets(admin, topic, target, logs), storedOffsets(pool, topic), describeGroup(admin, groupId), committedOffsets(admin, groupId, topic)]);
  const moves = logs.map((l) => {
    const holder = holderOf(group, topic, l.partition);
    return { ...l, stored: stored.get(l.partition), target: to.get(l.partition) ?? l.high, committed: committed.get(l.partition) ?? -1, heldBy: holder ? `${holder.clientId}@${holder.host}` : undefined };
  });
  return { topic, groupId, groupState: group.state, liveMembers: group.members.length, moves };
}

/** One compare-and-set of a stored offset, from what the plan read; false when it moved meanwhile. */
async function compareAndSet(pool: Pool, topic: string, partition: number, from: number | undefined, to: number, by: string): Promise<boolean> {
  const res =
    from === undefined
      ? await pool.query('INSERT INTO ingest_offsets (topic, partition, next_offset, updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (topic, partition) DO NOTHING', [topic, partition, to, by])
      : await pool.query('UPDATE ingest_offsets SET next_offset = $4, updated_at = NOW(), updated_by = $5 WHERE topic = $1 AND partition = $2 AND next_offset = $3', [topic, partition, from, to, by]);
  return res.rowCount === 1;
}

const MAX_ATTEMPTS = 10;

/**
 * Moves each partition of `plan` to its target. A worker that commits between the plan and the move
 * makes the compare-and-set fail: the stored offset is read again and the move retried (to the new
 * log end for `latest`). Then Kafka's group offsets are set when the group has no live member;
 * otherwise the members follow: each fenced batch seeks to the stored offset and commits it to Kafka.
 */
export async function executeReset(deps: { admin: ResetAdmin; pool: Pool }, plan: ResetPlan, target: ResetTarget, by: string): Promise<ResetResult> {
  const { admin, pool } = deps;
  const moved: ResetResult['moved'] = [];
  for (const m of plan.moves) {
    let from = m.stored;
    let to = m.target;
    for (let attempt = 1; !(await compareAndSet(pool, plan.topic, m.partition, from, to, by)); attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error(`partition ${m.partition} of ${plan.topic}: the stored offset kept moving (${MAX_ATTEMPTS} attempts); nothing more was moved`);
      from = (await storedOffsets(pool, plan.topic)).get(m.partition);
      if (target.kind === 'latest') to = Number((await admin.fetchTopicOffsets(plan.topic)).find((p) => p.partition === m.partition)!.high);
    }
    moved.push({ partition: m.partition, from, to });
  }
  const group = await describeGroup(admin, plan.groupId);
  if (group.members.length > 0) return { moved, kafka: 'follow' };
  try {
    await admin.setOffsets({ groupId: plan.groupId, topic: plan.topic, partitions: moved.map((x) => ({ partition: x.partition, offset: String(x.to) })) });
    return { moved, kafka: 'set' };
  } catch {
    // A worker joined meanwhile (the broker refuses to set the offsets of an active group): it
    // fetches from Kafka's committed offset, sees it differs from the stored one and seeks to it.
    return { moved, kafka: 'follow' };
  }
}
