// The local Kafka broker: classpath from Maven, single-node KRaft (combined mode), started detached.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalKafka } from '../../src/kafka/client.ts';
import { freePort, pidAlive, portAnswers, run, sleep, terminate } from './process.ts';
import type { KafkaState } from './state.ts';

type Log = (line: string) => void;
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 30_000;
/** Large enough for 12 MB values plus batch overhead. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;


/**
 * A random KRaft cluster id (16 bytes, base64url) that does not start with '-': the storage tool's
 * argument parser would read such an id as an option (1 in 64 ids), as Kafka's own Uuid.randomUuid avoids.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
export async function kafkaVersion(repo: string): Promise<string> {
  const pom = await readFile(join(repo, 'stack/kafka/pom.xml'), 'utf8');
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!m?.[1]) throw new Error('stack/kafka/pom.xml has no <kafka.version>');
  return m[1];
}

/** The broker's classpath directory, copied from Maven into the cache the first time. */
export async function kafkaLibs(repo: string, root: string, log: Log): Promise<string> {
  const version = await kafkaVersion(repo);
  const libs = join(root, 'cache', `kafka-${version}`, 'libs');
  if (existsSync(join(libs, `kafka_2.13-${version}.jar`))) return libs;
  log(`kafka: resolving Kafka ${version} with Maven into ${libs}`);
  const tmp = `${libs}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await run('mvn', ['-B', '-q', '-f', join(repo, 'stack/kafka/pom.xml'), 'dependency:copy-dependencies',
    '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`]);
  await rm(libs, { recursive: true, force: true });
  await rename(tmp, libs);
  return libs;
}

/**
 * server.properties of a single-node KRaft broker (combined broker and controller) on 127.0.0.1 with
 * a PLAINTEXT listener on `port`; `extra` adds or overrides keys (e.g. a SASL listener).
 */
export function serverProperties(dataDir: string, port: number, cport: number, extra: Record<string, string | number> = {}): string {
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${cport}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'auto.create.topics.enable': 'false',
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'log.retention.hours': 168,
    'message.max.bytes': MAX_MESSAGE_BYTES,
    'replica.fetch.max.bytes': MAX_MESSAGE_BYTES,
    'num.io.threads': 4,
    'num.network.threads': 2,
    ...extra,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

async function tail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/** Whether the broker answers a metadata request. */
export async function kafkaAnswers(brokers: string): Promise<boolean> {
  const admin = createLocalKafka(brokers.split(','), 'orchestry-stack-probe').admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Whether the pid runs our broker (pids are reused after a reboot). */
function isKafka(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka');
  } catch {
    return false;
  }
}

/** Stops a broker left over from an earlier run (recorded in <root>/kafka/kafka.pid). */
export async function stopKafka(root: string, pid: number | undefined, log: Log): Promise<void> {
  const pidFile = join(root, 'kafka', 'kafka.pid');
  const recorded = Number(await readFile(pidFile, 'utf8').catch(() => '')) || undefined;
  for (const p of new Set([pid, recorded])) {
    if (p && pidAlive(p) && isKafka(p)) {
      log(`kafka: stopping pid ${p}`);
      await terminate(p, STOP_GRACE_MS);
    }
  }
  await rm(pidFile, { force: true });
}

/** Formats storage when needed and starts the broker detached; resolves once it answers. */
export async function startKafka(repo: string, root: string, prefer: { port?: number; controller?: number }, log: Log): Promise<KafkaState> {
  const libs = await kafkaLibs(repo, root, log);
  const dir = join(root, 'kafka');
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await stopKafka(root, undefined, log);
  const port = await freePort(prefer.port);
  const controllerPort = await freePort(prefer.controller === port ? undefined : prefer.controller);
  const props = join(dir, 'server.properties');
  await writeFile(props, serverProperties(dataDir, port, controllerPort));
  const log4j = `-Dlog4j2.configurationFile=${join(repo, 'stack/kafka/log4j2.properties')}`;
  const cp = join(libs, '*');
  if (!existsSync(join(dataDir, 'meta.properties'))) {
    const clusterId = newClusterId();
    log(`kafka: formatting storage (cluster ${clusterId})`);
    await run('java', ['-Xmx256m', '-cp', cp, log4j, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '-g']);
  }
  const logFile = join(dir, 'kafka.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('java', ['-Xms256m', '-Xmx768m', '-Djava.awt.headless=true', '-cp', cp, log4j, 'kafka.Kafka', props], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error(`kafka: java did not start\n${await tail(logFile)}`);
  await writeFile(join(dir, 'kafka.pid'), `${pid}\n`);
  const brokers = `127.0.0.1:${port}`;
  log(`kafka: started pid ${pid} on ${brokers}, waiting for it to answer`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!pidAlive(pid)) throw new Error(`kafka: broker exited during start-up; tail of ${logFile}:\n${await tail(logFile)}`);
    if ((await portAnswers(port)) && (await kafkaAnswers(brokers))) break;
    if (Date.now() > deadline) {
      await terminate(pid, 5000);
      throw new Error(`kafka: no answer within ${READY_TIMEOUT_MS / 1000} s; tail of ${logFile}:\n${await tail(logFile)}`);
    }
    await sleep(300);
  }
  return { pid, port, controllerPort, brokers };
}
