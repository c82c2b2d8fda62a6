// What `orchestry-ingest status` gathers, from Kafka, PostgreSQL and the workers' /readyz, and
// what in it needs an operator's attention.
import { Cron } from 'croner';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { errorMessage } from '../errors.ts';
import { computeLag, type PartitionLag } from '../ingest/ops/lag.ts';
import type { Admin } from '../kafka/client.ts';
import { describeGroup, type GroupView } from '../kafka/group.ts';
import { addDays, archiveTargets, dayExpired, dbToday, listChildren, type DayParent } from '../partitions/index.ts';
import { JOBS } from '../scheduler/index.ts';

export type StatusAdmin = Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp' | 'describeGroups'>;

export interface PartitionStatus extends PartitionLag {
  /** Lag rose between the two samples while the stored offset stood still. */
  growing: boolean;
  lastCommitAt: string | null;
}
export interface WorkerReadiness { url: string; status: number | null; ready: boolean | null; failed: string[]; error?: string }
export interface JobStatus { name: string; schedule: string; last: { id: number; status: string; startedAt: string | null; finishedAt: string | null; error: string | null } | null; nextAt: string | null }
export interface TableAhead { table: DayParent; daysAhead: number; configured: number }
export interface DuePartition { table: string; partition: string; day: string }

export interface StatusReport {
  at: string;
  group: GroupView;
  partitions: PartitionStatus[];
  lastCommitAt: string | null;
  workers: WorkerReadiness[];
  jobs: JobStatus[];
  partitionsAhead: TableAhead[];
  oldestDue: DuePartition | null;
  dueCount: number;
  deadLettersLastHour: { code: string; count: number }[];
  attention: string[];
}

export interface StatusOptions { sampleMs: number; maxBehindSeconds: number; workers: string[]; readyTimeoutMs: number }

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Two lag samples `sampleMs` apart, with each partition's last commit time. */
async function partitionStatus(admin: StatusAdmin, pool: Pool, topics: string[], sampleMs: number): Promise<PartitionStatus[]> {
  const first = await computeLag({ admin, pool, topics });
  await new Promise((r) => setTimeout(r, sampleMs));
  const second = await computeLag({ admin, pool, topics });
  const { rows } = await pool.query<{ topic: string; partition: number; updated_at: Date }>('SELECT topic, partition, updated_at FROM ingest_offsets WHERE topic = ANY($1::text[])', [topics]);
  const key = (l: { topic: string; partition: number }) => `${l.topic}\0${l.partition}`;
  const before = new Map(first.map((l) => [key(l), l]));
  const commits = new Map(rows.map((r) => [key(r), r.updated_at]));
  return second
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map((l) => {
      const b = before.get(key(l));
      return { ...l, growing: b !== undefined && l.lag > b.lag && l.stored === b.stored, lastCommitAt: iso(commits.get(key(l))) };
    });
}

/** Each worker's /readyz: only its HTTP status and its `failed` list are read. */
async function readiness(url: string, timeoutMs: number): Promise<WorkerReadiness> {
  try {
    const res = await fetch(new URL('/readyz', url), { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as { failed?: unknown };
    const failed = Array.isArray(body.failed) ? body.failed.filter((f): f is string => typeof f === 'string') : [];
    return { url, status: res.status, ready: res.status === 200, failed };
  } catch (err) {
    return { url, status: null, ready: null, failed: [], error: errorMessage(err) };
  }
}

async function jobStatus(pool: Pool, config: Config): Promise<JobStatus[]> {
  const { rows } = await pool.query<{ id: number; job: string; status: string; started_at: Date | null; finished_at: Date | null; error: string | null }>(
    `SELECT DISTINCT ON (job) id, job, status, started_at, finished_at, error FROM job_runs
      WHERE status <> 'queued' ORDER BY job, COALESCE(started_at, finished_at) DESC NULLS LAST, id DESC`,
  );
  const schedules = config.scheduler.schedules as Record<string, string>;
  return JOBS.map((j) => {
    const r = rows.find((x) => x.job === j.name);
    const schedule = schedules[j.name] ?? '';
    const next = config.scheduler.enabled && schedule ? new Cron(schedule, { timezone: 'UTC', paused: true }).nextRun() : null;
    return {
      name: j.name,
      schedule,
      last: r ? { id: r.id, status: r.status, startedAt: iso(r.started_at), finishedAt: iso(r.finished_at), error: r.error } : null,
      nextAt: iso(next),
    };
  });
}

/** Consecutive future days with a partition, per table, and the oldest partition past retention. */
async function partitionState(pool: Pool, config: Config): Promise<{ ahead: TableAhead[]; oldest: DuePartition | null; count: number }> {
  const { today, now } = await dbToday(pool);
  const ahead: TableAhead[] = [];
  for (const table of ['metrics', 'events', 'metric_rollups'] as const) {
    const days = new Set((await listChildren(pool, table)).map((c) => c.day));
    let n = 0;
    while (days.has(addDays(today, n + 1))) n++;
    ahead.push({ table, daysAhead: n, configured: config.partitionsAheadDays });
  }
  const r = config.retention;
  const due: DuePartition[] = (await archiveTargets(pool, { instance: r.metricsInstanceDays, app: r.metricsAppDays, events: r.eventsDays })).map((t) => ({ table: t.table, partition: t.partition, day: t.day }));
  for (const p of await listChildren(pool, 'metric_rollups')) {
    if (p.day && dayExpired(p.day, now, r.metricsAppDays)) due.push({ table: 'metric_rollups', partition: p.name, day: p.day });
  }
  due.sort((a, b) => a.day.localeCompare(b.day));
  return { ahead, oldest: due[0] ?? null, count: due.length };
}

function attentionOf(s: Omit<StatusReport, 'attention'>, maxBehindSeconds: number): string[] {
  const out: string[] = [];
  if (s.group.members.length === 0) out.push(`consumer group ${s.group.groupId} has no live member`);
  for (const p of s.partitions) {
    if (p.growing) out.push(`${p.topic}[${p.partition}]: lag growing (${p.lag} messages) and nothing stored meanwhile`);
    if (p.seconds > maxBehindSeconds) out.push(`${p.topic}[${p.partition}]: ${Math.round(p.seconds)} s behind (limit ${maxBehindSeconds} s)`);
  }
  for (const w of s.workers) if (w.ready === false) out.push(`worker ${w.url} not ready: ${w.failed.join(', ') || `HTTP ${w.status}`}`);
  for (const j of s.jobs) if (j.last?.status === 'failed') out.push(`job ${j.name}: last run #${j.last.id} failed: ${j.last.error ?? 'no error recorded'}`);
  for (const t of s.partitionsAhead) if (t.daysAhead < t.configured) out.push(`${t.table}: ${t.daysAhead} day(s) of partitions ahead, ${t.configured} configured`);
  return out;
}

export async function gatherStatus(deps: { admin: StatusAdmin; pool: Pool; config: Config }, opts: StatusOptions): Promise<StatusReport> {
  const { admin, pool, config } = deps;
  const topics = [config.kafka.topics.stats, config.kafka.topics.lifecycle];
  const [group, partitions, jobs, parts, dead] = await Promise.all([
    describeGroup(admin, config.kafka.groupId),
    partitionStatus(admin, pool, topics, opts.sampleMs),
    jobStatus(pool, config),
    partitionState(pool, config),
    pool.query<{ code: string; count: number }>(
      `SELECT error_code AS code, count(*)::int AS count FROM ingest_dead_letters WHERE dead_at > now() - interval '1 hour' GROUP BY 1 ORDER BY 2 DESC, 1`,
    ),
  ]);
  // Workers: the ones named, else each member's host on this configuration's HTTP port.
  const urls = opts.workers.length > 0 ? opts.workers : [...new Set(group.members.map((m) => `http://${m.host.replace(/^\//, '')}:${config.http.port}`))];
  const workers = await Promise.all(urls.map((u) => readiness(u, opts.readyTimeoutMs)));
  const commits = partitions.map((p) => p.lastCommitAt).filter((x): x is string => x !== null).sort();
  const report = {
    at: new Date().toISOString(),
    group,
    partitions,
    lastCommitAt: commits.at(-1) ?? null,
    workers,
    jobs,
    partitionsAhead: parts.ahead,
    oldestDue: parts.oldest,
    dueCount: parts.count,
    deadLettersLastHour: dead.rows,
  };
  return { ...report, attention: attentionOf(report, opts.maxBehindSeconds) };
}
