// Contract messages -> COPY rows for metrics (text or binary format) and for the lifecycle staging table.
import { METRIC_TYPES, METRIC_UNITS, type LifecycleMessage, type StatsMessage } from './contract.ts';
import { BinaryChunkBuilder, FLOAT4_BYTES, TIMESTAMPTZ_BYTES, copyText, field } from './copy.ts';

const CHUNK_CHARS = 256 * 1024;

/** Accumulates COPY text in chunks of about 256 KB, so a large batch is never one huge string. */
export class ChunkBuilder {
  readonly chunks: string[] = [];
  rows = 0;
  private current = '';
  add(row: string): void {
    this.current += row;
    this.rows++;
    if (this.current.length >= CHUNK_CHARS) {
      this.chunks.push(this.current);
      this.current = '';
    }
  }
  done(): string[] {
    if (this.current.length > 0) {
      this.chunks.push(this.current);
      this.current = '';
    }
    return this.chunks;
  }
}

const METRICS_COLUMNS = '(app_name, metric_type, timestamp, value, labels, unit, aggregation_level)';
export const METRICS_COPY = `COPY metrics ${METRICS_COLUMNS} FROM STDIN`;
/** The same rows in COPY's binary format: typed timestamptz and float4, no text parsing on the server. */
export const METRICS_COPY_BINARY = `COPY metrics ${METRICS_COLUMNS} FROM STDIN (FORMAT binary)`;

/**
 * The labels column: the given labels plus container_id. Built as text without copying the object;
 * a container_id key among the labels is followed by ours, and jsonb keeps the last of duplicate keys.
 */
export function labelsJson(m: StatsMessage): string {
  const id = JSON.stringify(m.container_id);
  const given = m.labels === undefined ? '{}' : JSON.stringify(m.labels);
  return given.length === 2 ? `{"container_id":${id}}` : `${given.slice(0, -1)},"container_id":${id}}`;
}

/** Per metric type, the text after the value: labels come between, then unit and level. */
const TEXT_TAIL = Object.fromEntries(METRIC_TYPES.map((t) => [t, `\t${METRIC_UNITS[t]}\tinstance\n`])) as Record<(typeof METRIC_TYPES)[number], string>;

/** Appends the metrics rows of one stats sample: one row per metric field present. */
export function addMetricRows(out: ChunkBuilder, m: StatsMessage): number {
  const labels = copyText(labelsJson(m));
  const prefix = `${copyText(m.app)}\t`;
  const middle = `\t${m.ts.iso}\t`; // digits, dashes, colons, T, Z: nothing to escape
  let n = 0;
  for (const type of METRIC_TYPES) {
    const value = m[type];
    if (value === undefined) continue;
    out.add(`${prefix}${type}${middle}${value}\t${labels}${TEXT_TAIL[type]}`);
    n++;
  }
  return n;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const TYPE_BYTES = Object.fromEntries(METRIC_TYPES.map((t) => [t, utf8(t)])) as Record<(typeof METRIC_TYPES)[number], Buffer>;
const UNIT_BYTES = Object.fromEntries(METRIC_TYPES.map((t) => [t, utf8(METRIC_UNITS[t])])) as Record<(typeof METRIC_TYPES)[number], Buffer>;
const INSTANCE = utf8('instance');
const METRICS_FIELDS = 7;

/** µs since the Unix epoch of a normalised timestamp: whole seconds from `ms`, the fraction from `iso` (always 6 digits). */
export function epochMicros(ts: { ms: number; iso: string }): number {
  return Math.floor(ts.ms / 1000) * 1_000_000 + Number(ts.iso.slice(-7, -1));
}

/** The metrics rows of one stats sample in COPY binary format (METRICS_COPY_BINARY); same rows as `addMetricRows`. */
export function addMetricRowsBinary(out: BinaryChunkBuilder, m: StatsMessage): number {
  const app = utf8(m.app);
  const labels = utf8(`\u0001${labelsJson(m)}`); // jsonb binary input: version 1, then the JSON text
  const us = epochMicros(m.ts);
  const fixed = app.length + TIMESTAMPTZ_BYTES + FLOAT4_BYTES + labels.length + INSTANCE.length;
  let n = 0;
  for (const type of METRIC_TYPES) {
    const value = m[type];
    if (value === undefined) continue;
    const typeBytes = TYPE_BYTES[type];
    const unit = UNIT_BYTES[type];
    out.tuple(METRICS_FIELDS, fixed + typeBytes.length + unit.length);
    out.bytes(app);
    out.bytes(typeBytes);
    out.timestampUs(us);
    out.float4(value);
    out.bytes(labels);
    out.bytes(unit);
    out.bytes(INSTANCE);
    n++;
  }
  return n;
}

export const LIFECYCLE_STAGE_COPY =
  'COPY lifecycle_stage (seq, type, app, container_id, ts, payload, event_type, event_category, severity, message, source, node_id) FROM STDIN';

interface EventShape {
  eventType: string;
  category: string;
  severity: string;
  message: string;
}

/** The events row a lifecycle message appends (event_type, category and severity per the seed's tables). */
export function eventOf(m: LifecycleMessage): EventShape {
  const c = 'container_id' in m ? m.container_id : undefined;
  switch (m.type) {
    case 'app.registered': {
      const image = (m.spec as { spec?: { image?: unknown } }).spec?.image;
      return { eventType: 'registration', category: 'application', severity: 'info', message: `application ${m.app} registered${typeof image === 'string' ? ` (image ${image})` : ''}` };
    }
    case 'app.status':
      return { eventType: m.status === 'error' ? 'error' : 'deployment', category: 'application', severity: m.status === 'error' ? 'error' : 'info', message: `application ${m.app} is ${m.status}` };
    case 'app.scaled':
      return { eventType: 'scaling', category: 'application', severity: 'info', message: `application ${m.app} scaled from ${m.from} to ${m.to}${m.reason ? ` (${m.reason})` : ''}` };
    case 'container.started':
      return { eventType: 'deployment', category: 'application', severity: 'info', message: `container ${m.container_name} (${c}) of ${m.app} started as replica ${m.replica_index} at ${m.ip}:${m.port}` };
    case 'container.health':
      return {
        eventType: 'health',
        category: 'application',
        severity: m.health_status === 'unhealthy' ? 'warning' : 'info',
        message: `container ${c} of ${m.app} is ${m.health_status}${m.message ? `: ${m.message}` : ''}`,
      };
    case 'container.stopping':
    case 'container.stopped':
    case 'container.draining':
      return { eventType: 'deployment', category: 'application', severity: 'info', message: `container ${c} of ${m.app} is ${m.type.slice('container.'.length)}` };
    case 'container.error':
      return { eventType: 'error', category: 'application', severity: 'error', message: `container ${c} of ${m.app} failed${m.error ? `: ${m.error}` : ''}` };
  }
}

/** Appends the staging row of one lifecycle message; `seq` is its Kafka offset. */
export function addLifecycleRow(out: ChunkBuilder, seq: string, m: LifecycleMessage): void {
  const e = eventOf(m);
  const { v: _v, ts, ...rest } = m;
  const payload = JSON.stringify({ ...rest, ts: ts.iso });
  const containerId = 'container_id' in m ? m.container_id : null;
  out.add(
    [
      seq, m.type, copyText(m.app), field(containerId), copyText(ts.iso), copyText(payload), e.eventType, e.category, e.severity,
      copyText(e.message), copyText(m.source ?? 'controller'), field(m.node_id ?? null),
    ].join('\t') + '\n',
  );
}
