// The local S3-compatible server: S3Proxy (org.gaul:s3proxy from Maven Central) with its filesystem
// backend, started detached like the broker. The archive tests and `stack up --with-s3` use it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mavenLibs, pomVersion } from './maven.ts';
import { freePort, pidAlive, sleep, terminate } from './process.ts';

type Log = (line: string) => void;
const READY_TIMEOUT_MS = 120_000;
export const S3_BUCKET = 'orchestry-archive';

export interface S3State {
  pid: number;
  port: number;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** The environment lines that point the worker at this server (`stack up --with-s3` prints them). */
export function s3Env(s: S3State): Record<string, string> {
  return {
    S3_ENDPOINT: s.endpoint,
    S3_REGION: s.region,
    S3_ACCESS_KEY_ID: s.accessKeyId,
    S3_SECRET_ACCESS_KEY: s.secretAccessKey,
    S3_FORCE_PATH_STYLE: 'true',
    ARCHIVE_URL: `s3://${s.bucket}/archive`,
  };
}

function isS3Proxy(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('org.gaul.s3proxy.Main');
  } catch {
    return false;
  }
}

/** Whether the server answers HTTP (any status: an unsigned request gets 403). */
export async function s3Answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/** Stops the server recorded in <root>/s3proxy/s3proxy.pid (and `pid`, when given). */
export async function stopS3Proxy(root: string, pid: number | undefined, log: Log): Promise<void> {
  const pidFile = join(root, 's3proxy', 's3proxy.pid');
  const recorded = Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined;
  for (const p of new Set([pid, recorded])) {
    if (p && pidAlive(p) && isS3Proxy(p)) {
      log(`s3proxy: stopping pid ${p}`);
      await terminate(p, 10_000);
    }
  }
  await rm(pidFile, { force: true });
}

/** Starts S3Proxy on `prefer.port` (or a free port) with the credentials given or new ones; resolves once it answers. */
export async function startS3Proxy(repo: string, root: string, prefer: Partial<S3State>, log: Log): Promise<S3State> {
  const pom = join(repo, 'stack/s3proxy/pom.xml');
  const version = await pomVersion(pom, 's3proxy.version');
  const libs = await mavenLibs(pom, root, `s3proxy-${version}`, `s3proxy-${version}.jar`, log);
  const dir = join(root, 's3proxy');
  const bucket = prefer.bucket ?? S3_BUCKET;
  await mkdir(join(dir, 'data', bucket), { recursive: true });
  await stopS3Proxy(root, undefined, log);
  const port = await freePort(prefer.port);
  const s: Omit<S3State, 'pid'> = {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    region: prefer.region ?? 'us-east-1',
    accessKeyId: prefer.accessKeyId ?? 'orchestry-local',
    secretAccessKey: prefer.secretAccessKey ?? randomBytes(18).toString('base64url'),
    bucket,
  };
  const conf = join(dir, 's3proxy.conf');
  await writeFile(conf, [
    `s3proxy.endpoint=${s.endpoint}`, 's3proxy.authorization=aws-v2-or-v4', `s3proxy.identity=${s.accessKeyId}`,
    `s3proxy.credential=${s.secretAccessKey}`, 'jclouds.provider=filesystem', `jclouds.filesystem.basedir=${join(dir, 'data')}`, '',
  ].join('\n'), { mode: 0o600 });
  const logFile = join(dir, 's3proxy.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('java', ['-Xmx256m', `-Dlogback.configurationFile=${join(repo, 'stack/s3proxy/logback.xml')}`, '-cp', join(libs, '*'),
    'org.gaul.s3proxy.Main', '--properties', conf], { cwd: dir, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error('s3proxy: java did not start');
  await writeFile(join(dir, 's3proxy.pid'), `${pid}\n`);
  log(`s3proxy: started pid ${pid} on ${s.endpoint}, waiting for it to answer`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await s3Answers(s.endpoint))) {
    const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
    if (!pidAlive(pid)) throw new Error(`s3proxy: exited during start-up; tail of ${logFile}:\n${await tail()}`);
    if (Date.now() > deadline) {
      await terminate(pid, 5000);
      throw new Error(`s3proxy: no answer within ${READY_TIMEOUT_MS / 1000} s; tail of ${logFile}:\n${await tail()}`);
    }
    await sleep(300);
  }
  return { pid, ...s };
}
