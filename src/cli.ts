// orchestry-ingest: the command line. Each command group lives in src/cli/<group>.ts.
import { Command } from 'commander';
import { registerCoreCommands } from './cli/core.ts';
import { registerStackCommands } from './cli/stack.ts';
import { registerDlqCommands } from './cli/dlq.ts';
import { registerJobCommands } from './cli/jobs.ts';
import { registerQueryCommands } from './cli/query.ts';
import { registerArchiveCommands } from './cli/archive.ts';
import { registerPublishCommands } from './cli/publish.ts';
import { registerOffsetCommands } from './cli/offsets.ts';
import { registerStatusCommand } from './cli/status.ts';

const program = new Command('orchestry-ingest')
  .description('Kafka-to-PostgreSQL telemetry ingestion worker for Orchestry')
  .showHelpAfterError();

// `orchestry-ingest config | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

registerCoreCommands(program);
registerStackCommands(program);
registerDlqCommands(program);
registerJobCommands(program);
registerQueryCommands(program);
registerArchiveCommands(program);
registerPublishCommands(program);
registerOffsetCommands(program);
registerStatusCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`orchestry-ingest: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
