// A consumer group as operators see it: its state, its members and which partitions each holds,
// and its committed offsets. Used by `status` and `offsets`.
import kafkajs from 'kafkajs';
import type { Admin } from './client.ts';

export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
  /** topic -> partitions held by this member */
  assignment: Record<string, number[]>;
}

export interface GroupView {
  groupId: string;
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  state: string;
  members: GroupMember[];
}

/** The group's state and members with their decoded assignments. */
export async function describeGroup(admin: Pick<Admin, 'describeGroups'>, groupId: string): Promise<GroupView> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  if (!g) return { groupId, state: 'Dead', members: [] };
  const members = g.members.map((m) => {
    const decoded = m.memberAssignment.length > 0 ? kafkajs.AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
    return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment: decoded?.assignment ?? {} };
  });
  return { groupId, state: g.state, members };
}

/** The member holding `topic`/`partition`, if any. */
export function holderOf(group: GroupView, topic: string, partition: number): GroupMember | undefined {
  return group.members.find((m) => (m.assignment[topic] ?? []).includes(partition));
}

/** The group's committed offset per partition of `topic` (-1 when none). */
export async function committedOffsets(admin: Pick<Admin, 'fetchOffsets'>, groupId: string, topic: string): Promise<Map<number, number>> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((res?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}
