// Contract messages -> COPY rows for metrics and for the lifecycle staging table.
import { METRIC_TYPES, METRIC_UNITS, type LifecycleMessage, type StatsMessage } from './contract.ts';
import { copyText, field } from './copy.ts';

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

export const METRICS_COPY = 'COPY metrics (app_name, metric_type, timestamp, value, labels, unit, aggregation_level) FROM STDIN';

/** Appends the metrics rows of one stats sample: one row per metric field present. */
export function addMetricRows(out: ChunkBuilder, m: StatsMessage): number {
  const labels = copyText(JSON.stringify({ ...(m.labels ?? {}), container_id: m.container_id }));
  const prefix = `${copyText(m.app)}\t`;
  const middle = `\t${copyText(m.ts.iso)}\t`;
  let n = 0;
  for (const type of METRIC_TYPES) {
    const value = m[type];
    if (value === undefined) continue;
    out.add(`${prefix}${type}${middle}${value}\t${labels}\t${METRIC_UNITS[type]}\tinstance\n`);
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
