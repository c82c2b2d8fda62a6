// Contract v1 message builders for tests.
export const iso = (ms: number) => new Date(ms).toISOString();

export function stats(app: string, container: string, ts: number | string, fields: Record<string, unknown> = {}) {
  return { v: 1, app, container_id: container, ts, cpu_percent: 12.5, memory_percent: 40, ...fields };
}

export function started(app: string, container: string, ts: number | string, replica = 0, extra: Record<string, unknown> = {}) {
  return { v: 1, type: 'container.started', app, ts, container_id: container, container_name: `${app}-${replica}`, replica_index: replica, ip: '10.0.0.5', port: 8080, ...extra };
}

export function lifecycle(type: string, app: string, ts: number | string, extra: Record<string, unknown> = {}) {
  return { v: 1, type, app, ts, ...extra };
}

export function registered(app: string, ts: number | string, spec: Record<string, unknown> = {}) {
  return lifecycle('app.registered', app, ts, { spec: { apiVersion: 'v1', kind: 'App', metadata: { name: app }, spec: { image: 'nginx:alpine', replicas: 2 }, ...spec } });
}
