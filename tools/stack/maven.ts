// A Maven-resolved classpath for a server of the local stack: `mvn dependency:copy-dependencies` of a
// one-dependency pom into <root>/cache/<name>-<version>/libs, once, then reused.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './process.ts';

/** The version in `<tag>` of `pom`. */
export async function pomVersion(pom: string, tag: string): Promise<string> {
  const m = new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(await readFile(pom, 'utf8'));
  if (!m?.[1]) throw new Error(`${pom} has no <${tag}>`);
  return m[1];
}

/** The classpath directory of `pom`, resolved into the cache the first time (`marker` is a jar it must hold). */
export async function mavenLibs(pom: string, root: string, cacheName: string, marker: string, log: (line: string) => void): Promise<string> {
  const libs = join(root, 'cache', cacheName, 'libs');
  if (existsSync(join(libs, marker))) return libs;
  log(`${cacheName}: resolving with Maven into ${libs}`);
  const tmp = `${libs}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await run('mvn', ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`]);
  await rm(libs, { recursive: true, force: true });
  await rename(tmp, libs);
  return libs;
}
