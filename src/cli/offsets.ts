// offsets show | reset: the stored offsets (ingest_offsets, the consumer's real position) against the
// log and the group, and moving them. `kafka-consumer-groups --reset-offsets` cannot: it moves Kafka's only.
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { executeReset, planReset, type ResetPlan, type ResetResult, type ResetTarget } from '../ingest/ops/offset-reset.ts';
import { withKafkaAndDb } from './ops-context.ts';
import { printTable } from './table.ts';

interface Opts {
  topic?: string;
  partition?: string;
  toLatest?: boolean;
  toTime?: string;
  toOffset?: string;
  execute?: boolean;
  json?: boolean;
}

function fail(message: string): never {
  process.stderr.write(`orchestry-ingest: ${message}\n`);
  process.exit(2);
}

/** `stats`, `lifecycle` or a contract topic's name -> the topic's name. */
function topicOf(config: Config, name: string | undefined): string[] {
  const { stats, lifecycle } = config.kafka.topics;
  if (name === undefined) return [stats, lifecycle];
  if (name === 'stats' || name === stats) return [stats];
  if (name === 'lifecycle' || name === lifecycle) return [lifecycle];
  return fail(`--topic ${name}: offsets are stored for ${stats} (stats) and ${lifecycle} (lifecycle) only`);
}

function targetOf(o: Opts): ResetTarget {
  const given = [o.toLatest, o.toTime, o.toOffset].filter((x) => x !== undefined).length;
  if (given !== 1) return fail('reset needs exactly one of --to-latest, --to-time T, --to-offset N');
  if (o.toLatest) return { kind: 'latest' };
  if (o.toTime !== undefined) {
    const ms = /^\d+$/.test(o.toTime) ? Number(o.toTime) : Date.parse(o.toTime);
    return Number.isNaN(ms) ? fail(`--to-time ${o.toTime}: not an RFC 3339 time or epoch milliseconds`) : { kind: 'time', ms };
  }
  return /^\d+$/.test(o.toOffset!) ? { kind: 'offset', offset: Number(o.toOffset) } : fail(`--to-offset ${o.toOffset}: not an offset`);
}

function partitionsOf(o: Opts): number[] | undefined {
  if (o.partition === undefined) return undefined;
  return /^\d+$/.test(o.partition) ? [Number(o.partition)] : fail(`--partition ${o.partition}: not a partition number`);
}

const num = (n: number | undefined) => (n === undefined || n < 0 ? '-' : String(n));

function printPlan(plan: ResetPlan, showTarget: boolean): void {
  process.stdout.write(`${plan.topic}  (group ${plan.groupId}: ${plan.groupState}, ${plan.liveMembers} live member(s))\n`);
  const head = ['partition', 'log start', 'log end', 'stored', 'lag', 'kafka committed', ...(showTarget ? ['target', 'move'] : []), 'held by'];
  const rows = plan.moves.map((m) => {
    const lag = m.high - (m.stored ?? m.low);
    const move = m.target - (m.stored ?? m.low);
    return [String(m.partition), num(m.low), num(m.high), num(m.stored), String(lag), num(m.committed), ...(showTarget ? [String(m.target), move > 0 ? `+${move}` : String(move)] : []), m.heldBy ?? '-'];
  });
  printTable(head, rows);
}

function printResult(plan: ResetPlan, res: ResetResult): void {
  for (const m of res.moved) process.stdout.write(`moved ${plan.topic}[${m.partition}]: ${num(m.from)} -> ${m.to}\n`);
  if (res.kafka === 'set') process.stdout.write('Kafka group offsets set to the same positions (the group has no live member).\n');
  else {
    process.stdout.write('Kafka group offsets: the live workers follow. A worker whose batch is fenced by the move rolls back, seeks to the new stored offset and commits it to Kafka after its next batch.\n');
    if (res.moved.some((m) => m.from !== undefined && m.to < m.from)) {
      process.stdout.write('A rewound partition is re-read at its next message or the next rebalance (restart a worker to re-read it now).\n');
    }
  }
}

export function registerOffsetCommands(program: Command): void {
  const offsets = program.command('offsets').description('stored offsets (PostgreSQL is the consumer\'s position): show, reset');
  const common = (c: Command) =>
    c.option('--topic <topic>', 'stats, lifecycle, or the topic name (default: both)').option('--partition <n>', 'one partition only').option('--json', 'print JSON');

  common(offsets.command('show').description('stored offsets against the log, the group\'s Kafka offsets and the member holding each partition')).action(async (o: Opts) => {
    await withKafkaAndDb('orchestry-ingest-offsets', false, async ({ config, ...deps }) => {
      const plans = [];
      for (const topic of topicOf(config, o.topic)) plans.push(await planReset(deps, config.kafka.groupId, topic, { kind: 'latest' }, partitionsOf(o)));
      if (o.json) process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
      else for (const p of plans) printPlan(p, false);
    });
  });

  common(offsets.command('reset').description('move stored offsets (shows the plan; moves only with --execute)'))
    .option('--to-latest', 'to the log end: skip the backlog')
    .option('--to-time <time>', 'to the first message at or after this time (RFC 3339 or epoch ms), by the broker\'s offset lookup')
    .option('--to-offset <n>', 'to this offset')
    .option('--execute', 'move the offsets (without it: print the plan only)')
    .action(async (o: Opts) => {
      if (o.topic === undefined) fail('reset needs --topic (stats, lifecycle or a topic name)');
      const target = targetOf(o);
      await withKafkaAndDb('orchestry-ingest-offsets', false, async ({ config, ...deps }) => {
        const [topic] = topicOf(config, o.topic);
        const plan = await planReset(deps, config.kafka.groupId, topic!, target, partitionsOf(o));
        const result = o.execute ? await executeReset(deps, plan, target, `offsets reset by ${userInfo().username}@${hostname()}`) : undefined;
        if (o.json) return void process.stdout.write(`${JSON.stringify({ plan, executed: Boolean(o.execute), result }, null, 2)}\n`);
        printPlan(plan, true);
        if (result) printResult(plan, result);
        else process.stdout.write('Plan only: nothing moved. Add --execute to move the stored offsets (compare-and-set: a live worker rolls back its batch in flight and seeks to the new offset).\n');
      });
    });
}
