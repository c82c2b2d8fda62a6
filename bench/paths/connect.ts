// The peer: Kafka Connect standalone (connect-runtime) with the Debezium JDBC sink, writing the same
// metric rows from a topic of schema'd JSON records (JsonConverter, schemas.enable=true; one record
// per metric row) into metrics_peer, a table with the columns and indexes of metrics. Throughput is
// followed by max(id) (an identity from 1: no scan), from the first row to the last, so JVM start
// and group join are excluded. Libraries come from bench/connect/pom.xml through Maven.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { repo } from '../../tools/repo.ts';
import type { Message } from '../../src/kafka/client.ts';
import { benchDatabase, countRows, maxId } from '../db.ts';
import { benchKafka, createTopics, produceAll } from '../load.ts';
import { followProgress, peakRssMb, sleep } from '../stats.ts';
import { rowValues } from './rows.ts';
import type { StatsMessage } from '../../src/ingest/contract.ts';

export const KAFKA_VERSION = '4.1.1';
export const DEBEZIUM_VERSION = '3.6.0.Final';
const libs = join(repo, '.stack', 'cache', `connect-${KAFKA_VERSION}`, 'libs');

export interface PeerRun {
  rowsPerSec: number;
  rows: number;
  seconds: number;
  peakRssMb: number;
}

/** Copies the peer's classpath with Maven once; returns why not when it cannot. */
export function ensureConnectLibs(log: (s: string) => void): string | undefined {
  if (existsSync(join(libs, `debezium-connector-jdbc-${DEBEZIUM_VERSION}.jar`))) return undefined;
  if (spawnSync('java', ['-version']).status !== 0) return 'java is not installed (the peer needs Java 17)';
  log('peer: resolving Kafka Connect + Debezium JDBC sink with Maven (once)...');
  const r = spawnSync('mvn', ['-q', '-B', '-s', join(repo, 'bench/connect/settings.xml'), '-f', join(repo, 'bench/connect/pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`], { encoding: 'utf8' });
  if (r.error) return `mvn could not run: ${r.error.message}`;
  if (r.status !== 0) return `Maven could not resolve the peer: ${(r.stdout + r.stderr).split('\n').find((l) => l.includes('ERROR')) ?? 'exit ' + r.status}`;
  return undefined;
}

const SCHEMA = {
  type: 'struct', name: 'orchestry.metrics_row', optional: false,
  fields: [
    { field: 'app_name', type: 'string', optional: false },
    { field: 'metric_type', type: 'string', optional: false },
    { field: 'timestamp', type: 'string', optional: false, name: 'io.debezium.time.ZonedTimestamp' },
    { field: 'value', type: 'float', optional: false },
    { field: 'labels', type: 'string', optional: true, name: 'io.debezium.data.Json' },
    { field: 'unit', type: 'string', optional: true },
    { field: 'aggregation_level', type: 'string', optional: false },
  ],
};

/** One schema'd JSON record per metric row, partitioned as the stats messages are. */
export function peerRecords(samples: { partition: number; msg: StatsMessage }[]): Message[] {
  const schema = JSON.stringify(SCHEMA);
  return samples.flatMap(({ partition, msg }) =>
    rowValues(msg).map(([app_name, metric_type, timestamp, value, labels, unit, aggregation_level]) => ({
      key: msg.container_id,
      partition,
      value: `{"schema":${schema},"payload":${JSON.stringify({ app_name, metric_type, timestamp, value, labels, unit, aggregation_level })}}`,
    })),
  );
}

export async function producePeerTopic(records: Message[], partitions: number): Promise<string> {
  const topic = `bench-${randomBytes(4).toString('hex')}.peer.rows`;
  await createTopics([topic], partitions);
  await produceAll(benchKafka('orchestry-bench-peer'), topic, records, 2000, 4);
  return topic;
}

export async function runPeerOnce(topic: string, rows: number, tasks: number, batchRows: number): Promise<PeerRun> {
  const db = await benchDatabase();
  const dir = join(repo, '.stack', 'bench', `connect-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  await db.pool.query('CREATE TABLE metrics_peer (LIKE metrics INCLUDING ALL)');
  const u = new URL(db.url);
  writeFileSync(join(dir, 'worker.properties'), [
    `bootstrap.servers=${process.env.KAFKA_BROKERS}`,
    'key.converter=org.apache.kafka.connect.storage.StringConverter',
    'value.converter=org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable=true',
    `offset.storage.file.filename=${join(dir, 'offsets')}`,
    'offset.flush.interval.ms=1000',
    'listeners=http://127.0.0.1:0',
    `consumer.max.poll.records=${batchRows}`,
    'consumer.auto.offset.reset=earliest',
  ].join('\n'));
  writeFileSync(join(dir, 'sink.properties'), [
    `name=bench-jdbc-sink-${randomBytes(3).toString('hex')}`,
    'connector.class=io.debezium.connector.jdbc.JdbcSinkConnector',
    `tasks.max=${tasks}`,
    `topics=${topic}`,
    `connection.url=jdbc:postgresql://${u.hostname}:${u.port}${u.pathname}`,
    `connection.username=${decodeURIComponent(u.username) || 'postgres'}`,
    `connection.password=${decodeURIComponent(u.password)}`,
    'insert.mode=insert',
    'primary.key.mode=none',
    'schema.evolution=none',
    'collection.name.format=metrics_peer',
    `batch.size=${batchRows}`,
  ].join('\n'));
  writeFileSync(join(dir, 'log4j2.properties'), [
    'status = error', 'appender.f.type = File', 'appender.f.name = F', `appender.f.fileName = ${join(dir, 'connect.log')}`,
    'appender.f.layout.type = PatternLayout', 'appender.f.layout.pattern = %d %p %c{1} %m%n', 'rootLogger.level = warn', 'rootLogger.appenderRef.f.ref = F',
  ].join('\n'));
  const child = spawn('java', ['-Xmx1g', `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`, '-cp', `${libs}/*`, 'org.apache.kafka.connect.cli.ConnectStandalone', join(dir, 'worker.properties'), join(dir, 'sink.properties')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-5000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const logTail = () => (existsSync(join(dir, 'connect.log')) ? readFileSync(join(dir, 'connect.log'), 'utf8').split('\n').filter((l) => / (ERROR|WARN) /.test(l)).slice(-5).join('\n') : '') + err;
  try {
    const startBy = Date.now() + 120_000;
    while ((await maxId(db.pool, 'metrics_peer')) === 0) {
      if (child.exitCode !== null || Date.now() > startBy) throw new Error(`Kafka Connect wrote no row: ${logTail().slice(-1500)}`);
      await sleep(200);
    }
    const p = await followProgress(() => maxId(db.pool, 'metrics_peer'), rows, { pollMs: 200, timeoutMs: 600_000 });
    const rss = peakRssMb(child.pid!);
    const landed = await countRows(db.pool, 'metrics_peer');
    if (landed !== rows) throw new Error(`peer landed ${landed} of ${rows} rows: ${logTail().slice(-1500)}`);
    return { rowsPerSec: p.rate, rows, seconds: p.seconds, peakRssMb: rss };
  } finally {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
    await db.drop();
  }
}

/** Whether the peer's classpath is already resolved (the smoke test runs the peer only then). */
export const connectLibsPresent = () => existsSync(join(libs, `debezium-connector-jdbc-${DEBEZIUM_VERSION}.jar`));
