// The repository's root folder, for tools, tests and the benchmark that spawn the CLI or write results.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
