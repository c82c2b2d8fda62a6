// `orchestry-ingest status [--json]`: one screen for operators (group, lag, commits, readiness, jobs,
// partitions, dead letters). Exits 1 when something needs attention, so cron or CI can probe with it.
import type { Command } from 'commander';
import { withKafkaAndDb } from './ops-context.ts';
import { gatherStatus, type StatusReport } from './status-report.ts';
import { printTable } from './table.ts';

const ago = (at: string | null, now: number) => (at ? `${at.slice(0, 19).replace('T', ' ')} (${Math.round((now - Date.parse(at)) / 1000)} s ago)` : '-');

function render(s: StatusReport, out: NodeJS.WritableStream = process.stdout): void {
  const now = Date.parse(s.at);
  const w = (line = '') => out.write(`${line}\n`);
  w(`consumer group ${s.group.groupId}: ${s.group.state}, ${s.group.members.length} member(s)`);
  for (const m of s.group.members) {
    const held = Object.entries(m.assignment).map(([t, ps]) => `${t}[${[...ps].sort((a, b) => a - b).join(',')}]`);
    w(`  ${m.clientId}@${m.host}  ${held.join(' ') || '(nothing assigned)'}`);
  }
  w();
  w(`last commit: ${ago(s.lastCommitAt, now)}`);
  printTable(
    ['topic', 'partition', 'end', 'stored', 'lag', 'behind', 'last commit (UTC)', 'note'],
    s.partitions.map((p) => [p.topic, String(p.partition), String(p.end), p.stored === undefined ? '-' : String(p.stored), String(p.lag), `${p.seconds.toFixed(1)} s`, p.lastCommitAt?.slice(0, 19).replace('T', ' ') ?? '-', p.growing ? 'GROWING' : '']),
    out,
  );
  w();
  w('workers (/readyz):');
  if (s.workers.length === 0) w('  (none reachable: no member, and no --worker given)');
  for (const r of s.workers) w(`  ${r.url}  ${r.ready === null ? `unreachable: ${r.error}` : r.ready ? 'ready' : `NOT READY (${r.failed.join(', ') || `HTTP ${r.status}`})`}`);
  w();
  printTable(
    ['job', 'schedule', 'last run', 'result', 'next (UTC)'],
    s.jobs.map((j) => [j.name, j.schedule, j.last ? `#${j.last.id} ${(j.last.startedAt ?? j.last.finishedAt ?? '').slice(0, 19).replace('T', ' ')}` : '-', j.last ? j.last.status + (j.last.error ? `: ${j.last.error.slice(0, 60)}` : '') : '-', j.nextAt?.slice(0, 16).replace('T', ' ') ?? '(scheduler off)']),
    out,
  );
  w();
  w(`partitions ahead: ${s.partitionsAhead.map((t) => `${t.table} ${t.daysAhead}/${t.configured} days`).join(', ')}`);
  w(`oldest partition due for retention or archive: ${s.oldestDue ? `${s.oldestDue.partition} (${s.oldestDue.day}; ${s.dueCount} due)` : 'none'}`);
  w(`dead letters, last hour: ${s.deadLettersLastHour.map((d) => `${d.code} ${d.count}`).join(', ') || 'none'}`);
  w();
  if (s.attention.length === 0) w('OK: nothing needs attention');
  else for (const a of s.attention) w(`ATTENTION: ${a}`);
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('ingestion, workers, jobs and partitions on one screen; exit 1 when something needs attention')
    .option('--json', 'print the report as JSON')
    .option('--worker <url...>', 'worker HTTP base URLs to ask /readyz (default: each group member\'s host on HTTP_PORT)')
    .option('--sample-ms <ms>', 'time between the two lag samples that tell whether lag grows', '2000')
    .option('--max-behind-s <s>', 'seconds behind above which a partition needs attention', '300')
    .action(async (o: { json?: boolean; worker?: string[]; sampleMs: string; maxBehindS: string }) => {
      await withKafkaAndDb('orchestry-ingest-status', true, async (deps) => {
        const report = await gatherStatus(deps, { sampleMs: Number(o.sampleMs), maxBehindSeconds: Number(o.maxBehindS), workers: o.worker ?? [], readyTimeoutMs: 2000 });
        if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else render(report);
        process.exitCode = report.attention.length > 0 ? 1 : 0;
      });
    });
}
