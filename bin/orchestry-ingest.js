#!/usr/bin/env node
// Entry point: the compiled dist/ when ORCHESTRY_USE_DIST=1 (the Docker image) or when there are no
// TypeScript sources; otherwise the sources through tsx's loader (a development checkout).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli.js');
const sources = join(root, 'src', 'cli.ts');

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined; // tsx is a development dependency: absent after `npm ci --omit=dev`
  }
}

const useDist = (process.env.ORCHESTRY_USE_DIST === '1' || !existsSync(sources)) && existsSync(compiled);
const tsx = useDist ? undefined : await loadTsx();
if (useDist || (!tsx && existsSync(compiled))) {
  await import(pathToFileURL(compiled).href);
} else if (tsx && existsSync(sources)) {
  tsx.register();
  await import(pathToFileURL(sources).href);
} else {
  process.stderr.write(
    'orchestry-ingest: cannot start: neither the compiled dist/ (npm run build) nor the development tools (npm install, for tsx) are here\n',
  );
  process.exit(1);
}
