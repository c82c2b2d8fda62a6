// `npm run bench [-- --quick] [-- --profile] [-- --no-peer] [-- --no-window-read]`: the benchmark. Brings up the local
// stack when KAFKA_BROKERS / DATABASE_URL are absent (and stops what it started), runs it, prints
// the markdown table on stdout and writes JSON + SVG under bench/results/.
import { FULL, QUICK, runBench } from './bench.ts';
import { markdown } from './report.ts';
import { withStack } from './stack.ts';

const args = new Set(process.argv.slice(2));
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

await withStack(log, async () => {
  const report = await runBench(args.has('--quick') ? QUICK : FULL, { peer: !args.has('--no-peer'), profile: args.has('--profile'), write: true, log, windowRead: (!args.has('--quick') || args.has('--window-read')) && !args.has('--no-window-read') });
  process.stdout.write(markdown(report));
});
