// The workload: N apps x M containers, one stats sample per container per interval (8 metric
// fields, so 8 metrics rows), plus lifecycle churn (registrations, starts, health changes, scaling).
import { createLocalKafka, type Kafka, type Message } from '../src/kafka/client.ts';
import { ensureTopics } from '../src/kafka/topics.ts';

export interface WorkloadSpec {
  apps: number;
  containersPerApp: number;
  intervals: number;
  intervalMs: number;
}

export const ROWS_PER_SAMPLE = 8;

export interface Sample {
  app: string;
  container: string;
  replica: number;
  ts: number;
  partition: number;
  json: Record<string, unknown>;
}

export interface Workload {
  spec: WorkloadSpec;
  samples: Sample[];
  lifecycle: { key: string; partition: number; json: Record<string, unknown> }[];
  rows: number;
}

export const appName = (a: number) => `bench-app-${String(a).padStart(3, '0')}`;
export const containerId = (a: number, c: number) => `c${String(a).padStart(3, '0')}${String(c).padStart(3, '0')}${'0'.repeat(50)}`.slice(0, 64);

/** A deterministic pseudo-random sequence (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One stats sample: 8 metric fields (ROWS_PER_SAMPLE rows), a label, epoch-ms ts. */
export function sampleJson(app: string, container: string, replica: number, ts: number, r: () => number): Record<string, unknown> {
  return {
    v: 1, app, container_id: container, replica_index: replica, ts,
    cpu_percent: Math.round(r() * 9000) / 100,
    memory_percent: Math.round(r() * 9000) / 100,
    memory_bytes: Math.round(r() * 2e9),
    rps: Math.round(r() * 50000) / 100,
    latency_p50: Math.round(r() * 5000) / 100,
    latency_p95: Math.round(r() * 20000) / 100,
    latency_p99: Math.round(r() * 50000) / 100,
    active_connections: Math.floor(r() * 200),
    labels: { zone: 'bench-a', node: `node-${replica % 4}` },
  };
}

/** Builds the whole workload in memory, its timestamps ending about now (inside retention). */
export function buildWorkload(spec: WorkloadSpec, partitions: number, endMs = Date.now()): Workload {
  const r = rng(42);
  const startMs = endMs - spec.intervals * spec.intervalMs;
  const samples: Sample[] = [];
  const lifecycle: Workload['lifecycle'] = [];
  const containers: { app: string; id: string; replica: number; partition: number }[] = [];
  for (let a = 0; a < spec.apps; a++) {
    const app = appName(a);
    lifecycle.push({ key: app, partition: a % partitions, json: { v: 1, type: 'app.registered', app, ts: startMs - 1000, spec: { apiVersion: 'v1', kind: 'App', metadata: { name: app }, spec: { image: 'nginx:alpine', replicas: spec.containersPerApp } } } });
    for (let c = 0; c < spec.containersPerApp; c++) {
      const id = containerId(a, c);
      const partition = (a * spec.containersPerApp + c) % partitions;
      containers.push({ app, id, replica: c, partition });
      lifecycle.push({ key: id, partition, json: { v: 1, type: 'container.started', app, ts: startMs - 500, container_id: id, container_name: `${app}-${c}`, replica_index: c, ip: '10.0.0.5', port: 8080 + c } });
    }
  }
  for (let i = 0; i < spec.intervals; i++) {
    const ts = startMs + i * spec.intervalMs;
    for (const c of containers) samples.push({ app: c.app, container: c.id, replica: c.replica, ts, partition: c.partition, json: sampleJson(c.app, c.id, c.replica, ts, r) });
    // Churn: about 1% of containers change health each interval; one app rescales every 10 intervals.
    for (let k = 0; k < Math.max(1, Math.floor(containers.length / 100)); k++) {
      const c = containers[Math.floor(r() * containers.length)]!;
      lifecycle.push({ key: c.id, partition: c.partition, json: { v: 1, type: 'container.health', app: c.app, ts: ts + 1, container_id: c.id, health_status: r() < 0.5 ? 'healthy' : 'unhealthy', failures: Math.floor(r() * 3) } });
    }
    if (i % 10 === 0) {
      const app = appName(Math.floor(r() * spec.apps));
      lifecycle.push({ key: app, partition: 0, json: { v: 1, type: 'app.scaled', app, ts: ts + 2, from: spec.containersPerApp, to: spec.containersPerApp, reason: 'bench churn' } });
    }
  }
  return { spec, samples, lifecycle, rows: samples.length * ROWS_PER_SAMPLE };
}

export function benchKafka(clientId = 'orchestry-bench'): Kafka {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set');
  return createLocalKafka(brokers.split(','), clientId);
}

export async function createTopics(names: string[], partitions: number): Promise<void> {
  await ensureTopics(process.env.KAFKA_BROKERS!.split(','), names.map((name) => ({ name, partitions })));
}

/** Produces keyed messages to explicit partitions, a few sends in flight, acks=all. */
export async function produceAll(kafka: Kafka, topic: string, messages: Message[], perSend = 2000, inFlight = 4): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    let next = 0;
    const lane = async () => {
      while (next < messages.length) {
        const slice = messages.slice(next, next + perSend);
        next += perSend;
        await producer.send({ topic, acks: -1, messages: slice });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  } finally {
    await producer.disconnect();
  }
}

export const statsMessages = (w: Workload): Message[] => w.samples.map((s) => ({ key: s.container, partition: s.partition, value: JSON.stringify(s.json) }));
export const lifecycleMessages = (w: Workload): Message[] => w.lifecycle.map((l) => ({ key: l.key, partition: l.partition, value: JSON.stringify(l.json) }));
