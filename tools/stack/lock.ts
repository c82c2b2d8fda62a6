// A lock file so two processes bringing the stack up at once do not start it twice.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pidAlive, sleep } from './process.ts';

const LOCK_WAIT_MS = 5 * 60_000;

/** Runs `fn` while holding <root>/stack.lock; a lock left by a dead process is taken over. */
export async function withLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(root, { recursive: true });
  const file = join(root, 'stack.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(file, 'utf8').catch(() => '')) || undefined;
      if (holder !== undefined && !pidAlive(holder)) await rm(file, { force: true });
      else if (Date.now() > deadline) throw new Error(`stack: ${file} is held by pid ${holder}`);
      else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
