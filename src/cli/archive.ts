// archive restore URL|FILE: loads an archived partition (Parquet or gzip'd COPY text, from s3://,
// file:// or a path) back after checking it against its manifest and archive_ledger.
import type { Command } from 'commander';
import { restoreArchive } from '../archive/restore.ts';
import { IngestError, errorMessage } from '../errors.ts';
import { configOrExit, poolFor } from './context.ts';

export function registerArchiveCommands(program: Command): void {
  program
    .command('archive')
    .description('archives written by the archive job')
    .command('restore')
    .description('load an archived object (…/part-00000.parquet or <partition>.copy.gz, with its .manifest.json beside it) back into its day partition; ' +
      'refused, with nothing inserted, unless its sha256, rows, columns, day and level check out. The partition is then kept by retention and archive until `jobs run archive --include-restored`')
    .argument('<url-or-file>', 's3://bucket/key, file:///path or a local path')
    .action(async (target: string) => {
      const config = configOrExit({ require: ['DATABASE_URL'] });
      const pool = poolFor(config, 'orchestry-ingest-archive');
      try {
        const m = await restoreArchive(pool, target, config.archive.s3);
        process.stderr.write(`restored ${m.rows} rows of ${m.partition} (${m.encoding}; sha256, rows, columns, day and level checked)\n`);
      } catch (err) {
        process.stderr.write(`orchestry-ingest: ${errorMessage(err)}\n`);
        process.exitCode = err instanceof IngestError && err.code === 'E_ARCHIVE_MISSING' ? 2 : 1;
      } finally {
        await pool.end();
      }
    });
}
