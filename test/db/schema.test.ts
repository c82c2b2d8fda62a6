// The migrations against the seed's contract (seed/orchestry-database-schema.txt), on a real
// PostgreSQL: every table, column, type, default, check constraint and index the seed names, with
// the fixes SEED-NOTES.md prescribes (and nothing else) allowed to differ. The expectations below
// are copied from the seed's text, not from our migrations.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { migrate, migrationStatus, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrate.ts';
import { freshDatabase, type TestDatabase } from '../helpers/db.ts';

// ---------------------------------------------------------------------------------------------
// The seed, as data. Column: [name, seed type, NOT NULL in the seed, seed DEFAULT (as written)].
// ---------------------------------------------------------------------------------------------
type SeedColumn = [name: string, type: string, notNull: boolean, dflt?: string];

const SEED_TABLES: Record<string, SeedColumn[]> = {
  applications: [
    ['name', 'VARCHAR(253)', true], // PRIMARY KEY
    ['spec', 'JSONB', true],
    ['status', 'VARCHAR(50)', true, "'registered'"],
    ['created_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['updated_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['replicas', 'INTEGER', false, '0'],
    ['desired_replicas', 'INTEGER', false, '0'],
    ['last_scaled_at', 'TIMESTAMP WITH TIME ZONE', false],
    ['mode', 'VARCHAR(20)', false, "'auto'"],
  ],
  instances: [
    ['id', 'SERIAL', true],
    ['app_name', 'VARCHAR(253)', true],
    ['container_id', 'VARCHAR(128)', true],
    ['container_name', 'VARCHAR(253)', true],
    ['replica_index', 'INTEGER', true],
    ['ip', 'INET', true],
    ['port', 'INTEGER', true],
    ['status', 'VARCHAR(50)', true, "'starting'"],
    ['health_status', 'VARCHAR(20)', false, "'unknown'"],
    ['created_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['updated_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['started_at', 'TIMESTAMP WITH TIME ZONE', false],
    ['last_health_check', 'TIMESTAMP WITH TIME ZONE', false],
    ['failure_count', 'INTEGER', false, '0'],
    ['consecutive_failures', 'INTEGER', false, '0'],
    ['last_failure_at', 'TIMESTAMP WITH TIME ZONE', false],
    ['cpu_percent', 'REAL', false, '0'],
    ['memory_percent', 'REAL', false, '0'],
    ['memory_usage_bytes', 'BIGINT', false, '0'],
  ],
  events: [
    ['id', 'SERIAL', true],
    ['event_type', 'VARCHAR(50)', true],
    ['event_category', 'VARCHAR(30)', true, "'application'"],
    ['app_name', 'VARCHAR(253)', false],
    ['container_id', 'VARCHAR(128)', false],
    ['message', 'TEXT', true],
    ['details', 'JSONB', false],
    ['severity', 'VARCHAR(20)', false, "'info'"],
    ['timestamp', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['source', 'VARCHAR(50)', false, "'controller'"],
    ['node_id', 'VARCHAR(100)', false],
  ],
  metrics: [
    ['id', 'SERIAL', true],
    ['app_name', 'VARCHAR(253)', true],
    ['metric_type', 'VARCHAR(50)', true],
    ['timestamp', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['value', 'REAL', true],
    ['labels', 'JSONB', false],
    ['unit', 'VARCHAR(20)', false],
    ['aggregation_level', 'VARCHAR(20)', false, "'instance'"],
  ],
  scaling_policies: [
    ['app_name', 'VARCHAR(253)', true], // PRIMARY KEY
    ['min_replicas', 'INTEGER', true, '1'],
    ['max_replicas', 'INTEGER', true, '5'],
    ['target_rps_per_replica', 'INTEGER', false, '50'],
    ['max_p95_latency_ms', 'INTEGER', false, '250'],
    ['max_cpu_percent', 'REAL', false, '70.0'],
    ['max_memory_percent', 'REAL', false, '75.0'],
    ['max_connections_per_replica', 'INTEGER', false, '100'],
    ['scale_out_threshold_pct', 'INTEGER', false, '80'],
    ['scale_in_threshold_pct', 'INTEGER', false, '30'],
    ['cooldown_seconds', 'INTEGER', false, '180'],
    ['evaluation_window_seconds', 'INTEGER', false, '60'],
    ['max_scale_out_step', 'INTEGER', false, '0'],
    ['max_scale_in_step', 'INTEGER', false, '1'],
    ['stabilization_window_seconds', 'INTEGER', false, '300'],
    ['cpu_weight', 'REAL', false, '1.0'],
    ['memory_weight', 'REAL', false, '1.0'],
    ['rps_weight', 'REAL', false, '1.0'],
    ['latency_weight', 'REAL', false, '1.5'],
    ['connection_weight', 'REAL', false, '0.8'],
    ['created_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['updated_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
  ],
  health_checks: [
    ['id', 'SERIAL', true],
    ['app_name', 'VARCHAR(253)', true],
    ['protocol', 'VARCHAR(10)', true, "'HTTP'"],
    ['path', 'VARCHAR(500)', false],
    ['port', 'INTEGER', true],
    ['method', 'VARCHAR(10)', false, "'GET'"],
    ['headers', 'JSONB', false],
    ['body', 'TEXT', false],
    ['expected_status_codes', 'INTEGER[]', false, 'ARRAY[200]'],
    ['initial_delay_seconds', 'INTEGER', false, '30'],
    ['period_seconds', 'INTEGER', false, '30'],
    ['timeout_seconds', 'INTEGER', false, '5'],
    ['failure_threshold', 'INTEGER', false, '3'],
    ['success_threshold', 'INTEGER', false, '1'],
    ['enabled', 'BOOLEAN', false, 'true'],
    ['created_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
    ['updated_at', 'TIMESTAMP WITH TIME ZONE', false, 'NOW()'],
  ],
};

/** Where the migrations knowingly differ from the seed's columns, and why (SEED-NOTES.md). */
const COLUMN_DEVIATIONS: Record<string, string> = {
  'events.id': 'bigint identity instead of 32-bit SERIAL',
  'metrics.id': 'bigint identity instead of 32-bit SERIAL',
  'events.timestamp': 'NOT NULL: it is the partition key',
  'metrics.timestamp': 'NOT NULL: it is the partition key',
  'metrics.aggregation_level': 'NOT NULL: it is the second-level (list) partition key',
};

// The seed's CHECK constraints, by table and name. `values` is the seed's IN (...) list, where there is one.
const SEED_CHECKS: Record<string, Record<string, string[] | null>> = {
  applications: {
    valid_status: ['registered', 'starting', 'running', 'stopping', 'stopped', 'error', 'updating'],
    valid_mode: ['auto', 'manual'],
    valid_replicas: null,
    valid_desired_replicas: null,
  },
  instances: {
    valid_status: ['starting', 'running', 'stopping', 'stopped', 'error', 'draining'],
    valid_health_status: ['unknown', 'healthy', 'unhealthy', 'starting'],
    valid_replica_index: null,
    valid_port: null,
    valid_failure_count: null,
    valid_cpu_percent: null,
    valid_memory_percent: null,
  },
  events: {
    valid_event_type: ['registration', 'scaling', 'health', 'config', 'deployment', 'error', 'warning', 'network', 'resource', 'security'],
    valid_event_category: ['application', 'system', 'cluster', 'security', 'performance'],
    valid_severity: ['debug', 'info', 'warning', 'error', 'critical'],
  },
  metrics: {
    valid_metric_type: [
      'cpu_percent', 'memory_percent', 'memory_bytes', 'rps', 'latency_p50', 'latency_p95', 'latency_p99',
      'active_connections', 'error_rate', 'response_time', 'queue_length', 'disk_usage',
    ],
    valid_aggregation_level: ['instance', 'app', 'system'],
  },
  scaling_policies: {
    valid_replica_bounds: null,
    valid_min_replicas: null,
    valid_max_replicas: null,
    valid_thresholds: null,
    valid_percentages: null,
    valid_weights: null,
  },
  health_checks: {
    valid_protocol: ['HTTP', 'TCP'],
    valid_method: ['GET', 'POST', 'PUT', 'HEAD'],
    valid_port: null,
    valid_timings: null,
  },
};

// Fixture rows every violating statement can lean on (inserted once, before the checks run).
const FIXTURE = [
  `INSERT INTO applications (name, spec) VALUES ('app-a', '{"spec": {"image": "nginx:alpine"}}')`,
];
const INSTANCE = (cols: string, vals: string) =>
  `INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port${cols}) VALUES ('app-a', 'c-1', 'app-a-1', 1, '10.0.0.2', 8080${vals})`;
const POLICY = (cols: string, vals: string) => `INSERT INTO scaling_policies (app_name, ${cols}) VALUES ('app-a', ${vals})`;
const HEALTH = (cols: string, vals: string) => `INSERT INTO health_checks (app_name, port${cols}) VALUES ('app-a', 8080${vals})`;
const EVENT = (cols: string, vals: string) => `INSERT INTO events (message, ${cols}) VALUES ('probe', ${vals})`;

/** One statement (or more) per seed CHECK constraint, each violating that constraint and no other. */
const VIOLATIONS: { table: string; constraint: string; sql: string }[] = [
  { table: 'applications', constraint: 'valid_status', sql: `INSERT INTO applications (name, spec, status) VALUES ('v', '{}', 'bogus')` },
  { table: 'applications', constraint: 'valid_status', sql: `UPDATE applications SET status = 'bogus' WHERE name = 'app-a'` },
  { table: 'applications', constraint: 'valid_mode', sql: `INSERT INTO applications (name, spec, mode) VALUES ('v', '{}', 'semi')` },
  { table: 'applications', constraint: 'valid_replicas', sql: `INSERT INTO applications (name, spec, replicas) VALUES ('v', '{}', -1)` },
  { table: 'applications', constraint: 'valid_desired_replicas', sql: `INSERT INTO applications (name, spec, desired_replicas) VALUES ('v', '{}', -1)` },
  { table: 'instances', constraint: 'valid_status', sql: INSTANCE(', status', `, 'bogus'`) },
  { table: 'instances', constraint: 'valid_health_status', sql: INSTANCE(', health_status', `, 'sick'`) },
  { table: 'instances', constraint: 'valid_replica_index', sql: INSTANCE('', '').replace(`'app-a-1', 1,`, `'app-a-1', -1,`) },
  { table: 'instances', constraint: 'valid_port', sql: INSTANCE('', '').replace('8080', '0') },
  { table: 'instances', constraint: 'valid_port', sql: INSTANCE('', '').replace('8080', '65536') },
  { table: 'instances', constraint: 'valid_failure_count', sql: INSTANCE(', failure_count', ', -1') },
  { table: 'instances', constraint: 'valid_cpu_percent', sql: INSTANCE(', cpu_percent', ', -0.5') },
  { table: 'instances', constraint: 'valid_memory_percent', sql: INSTANCE(', memory_percent', ', 101') },
  { table: 'instances', constraint: 'valid_memory_percent', sql: INSTANCE(', memory_percent', ', -1') },
  { table: 'events', constraint: 'valid_event_type', sql: EVENT('event_type', `'bogus'`) },
  { table: 'events', constraint: 'valid_event_category', sql: EVENT('event_type, event_category', `'health', 'galaxy'`) },
  { table: 'events', constraint: 'valid_severity', sql: EVENT('event_type, severity', `'health', 'fatal'`) },
  { table: 'metrics', constraint: 'valid_metric_type', sql: `INSERT INTO metrics (app_name, metric_type, value) VALUES ('app-a', 'bogus', 1)` },
  // valid_aggregation_level: see its own test below (partition routing rejects first).
  { table: 'scaling_policies', constraint: 'valid_replica_bounds', sql: POLICY('min_replicas, max_replicas', '5, 3') },
  { table: 'scaling_policies', constraint: 'valid_min_replicas', sql: POLICY('min_replicas, max_replicas', '-1, 5') },
  { table: 'scaling_policies', constraint: 'valid_max_replicas', sql: POLICY('min_replicas, max_replicas', '0, 0') },
  { table: 'scaling_policies', constraint: 'valid_thresholds', sql: POLICY('scale_in_threshold_pct, scale_out_threshold_pct', '50, 40') },
  { table: 'scaling_policies', constraint: 'valid_percentages', sql: POLICY('scale_in_threshold_pct, scale_out_threshold_pct', '30, 101') },
  { table: 'scaling_policies', constraint: 'valid_percentages', sql: POLICY('scale_in_threshold_pct, scale_out_threshold_pct', '0, 80') },
  { table: 'scaling_policies', constraint: 'valid_weights', sql: POLICY('latency_weight', '-0.1') },
  { table: 'health_checks', constraint: 'valid_protocol', sql: HEALTH(', protocol', `, 'UDP'`) },
  { table: 'health_checks', constraint: 'valid_method', sql: HEALTH(', method', `, 'PATCH'`) },
  { table: 'health_checks', constraint: 'valid_port', sql: HEALTH('', '').replace('8080', '70000') },
  { table: 'health_checks', constraint: 'valid_timings', sql: HEALTH(', period_seconds', ', 0') },
  { table: 'health_checks', constraint: 'valid_timings', sql: HEALTH(', initial_delay_seconds', ', -1') },
];

// The seed's indexes: name → [table, key list as written, access method, predicate values].
const SEED_INDEXES: Record<string, { table: string; keys: string; method?: string; where?: string[] }> = {
  idx_applications_status: { table: 'applications', keys: 'status' },
  idx_applications_mode: { table: 'applications', keys: 'mode' },
  idx_applications_updated_at: { table: 'applications', keys: 'updated_at DESC' },
  // Seed: USING GIN on a text expression, which PostgreSQL rejects; SEED-NOTES: btree on the expression.
  idx_applications_spec_image: { table: 'applications', keys: "(spec->'spec'->>'image')", method: 'btree' },
  idx_applications_active: { table: 'applications', keys: 'name, status, updated_at', where: ['running', 'starting', 'updating'] },
  idx_instances_app_name: { table: 'instances', keys: 'app_name' },
  idx_instances_status: { table: 'instances', keys: 'status' },
  idx_instances_health_status: { table: 'instances', keys: 'health_status' },
  idx_instances_container_id: { table: 'instances', keys: 'container_id' },
  idx_instances_updated_at: { table: 'instances', keys: 'updated_at DESC' },
  idx_instances_app_status: { table: 'instances', keys: 'app_name, status' },
  idx_instances_health_check: { table: 'instances', keys: 'last_health_check DESC' },
  idx_instances_app_status_health: { table: 'instances', keys: 'app_name, status, health_status' },
  idx_instances_active: { table: 'instances', keys: 'app_name, status, health_status, updated_at', where: ['running', 'starting'] },
  idx_events_app_name_timestamp: { table: 'events', keys: 'app_name, timestamp DESC' },
  idx_events_type_timestamp: { table: 'events', keys: 'event_type, timestamp DESC' },
  idx_events_timestamp: { table: 'events', keys: 'timestamp DESC' },
  idx_events_severity: { table: 'events', keys: 'severity, timestamp DESC' },
  idx_events_category: { table: 'events', keys: 'event_category, timestamp DESC' },
  idx_events_container: { table: 'events', keys: 'container_id, timestamp DESC' },
  idx_events_app_type_severity: { table: 'events', keys: 'app_name, event_type, severity, timestamp DESC' },
  idx_metrics_app_type_time: { table: 'metrics', keys: 'app_name, metric_type, timestamp DESC' },
  idx_scaling_policies_updated_at: { table: 'scaling_policies', keys: 'updated_at DESC' },
  idx_health_checks_app_name: { table: 'health_checks', keys: 'app_name' },
  idx_health_checks_enabled: { table: 'health_checks', keys: 'enabled' },
};
/**
 * Seed indexes on metrics that 000001 creates as the seed wrote them and 000008 replaces by a BRIN
 * on timestamp: no query of the seed or the project uses them, and they cost 1.6x on COPY
 * (bench/indexes.ts, issue 6).
 */
const REPLACED_INDEXES: Record<string, string> = {
  idx_metrics_app_timestamp: 'app_name, timestamp DESC',
  idx_metrics_type_timestamp: 'metric_type, timestamp DESC',
  idx_metrics_timestamp: 'timestamp DESC',
};
/** Seed indexes with NOW() in their predicate: PostgreSQL cannot build them (SEED-NOTES.md). */
const IMPOSSIBLE_INDEXES = ['idx_events_recent', 'idx_metrics_app_type_recent'];

// ---------------------------------------------------------------------------------------------

interface CatalogColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  character_maximum_length: number | null;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  is_identity: 'YES' | 'NO';
  identity_generation: string | null;
}

/** Whether a catalog column can hold everything the seed's type holds, the same way. */
function typeProblem(table: string, seedType: string, col: CatalogColumn): string | undefined {
  const varchar = /^VARCHAR\((\d+)\)$/.exec(seedType);
  if (varchar) {
    if (col.data_type === 'text') return undefined;
    if (col.data_type !== 'character varying') return `expected VARCHAR, got ${col.data_type}`;
    const want = Number(varchar[1]);
    return col.character_maximum_length !== null && col.character_maximum_length < want
      ? `VARCHAR(${col.character_maximum_length}) is narrower than the seed's VARCHAR(${want})`
      : undefined;
  }
  if (seedType === 'SERIAL') {
    if (`${table}.${col.column_name}` in COLUMN_DEVIATIONS) {
      return col.data_type === 'bigint' && col.is_identity === 'YES' ? undefined : `expected bigint identity, got ${col.data_type} identity=${col.is_identity}`;
    }
    const serial = col.data_type === 'integer' && /^nextval\(/.test(col.column_default ?? '');
    const identity = (col.data_type === 'integer' || col.data_type === 'bigint') && col.is_identity === 'YES';
    return serial || identity ? undefined : `expected SERIAL (integer with a sequence), got ${col.data_type} default ${col.column_default}`;
  }
  const exact: Record<string, (c: CatalogColumn) => boolean> = {
    JSONB: (c) => c.data_type === 'jsonb',
    TEXT: (c) => c.data_type === 'text',
    INET: (c) => c.data_type === 'inet',
    INTEGER: (c) => c.data_type === 'integer' || c.data_type === 'bigint',
    BIGINT: (c) => c.data_type === 'bigint',
    REAL: (c) => c.data_type === 'real' || c.data_type === 'double precision',
    BOOLEAN: (c) => c.data_type === 'boolean',
    'TIMESTAMP WITH TIME ZONE': (c) => c.data_type === 'timestamp with time zone',
    'INTEGER[]': (c) => c.data_type === 'ARRAY' && (c.udt_name === '_int4' || c.udt_name === '_int8'),
  };
  const ok = exact[seedType];
  if (!ok) return `the test does not know the seed type ${seedType}`;
  return ok(col) ? undefined : `expected ${seedType}, got ${col.data_type} (${col.udt_name})`;
}

/** A column default as PostgreSQL prints it, reduced to how the seed writes it. */
function normalizeDefault(d: string | null): string | undefined {
  if (d === null) return undefined;
  return d
    .replace(/::(character varying|text|integer|real|double precision|numeric|boolean)(\[\])?/g, '')
    .replace(/^\((.*)\)$/, '$1')
    .toLowerCase();
}

/** An index's key list (or a seed's), reduced to a comparable form: no quotes, casts, spaces or parentheses. */
function normalizeKeys(keys: string): string {
  return keys.replace(/::text/g, '').replace(/["\s()]/g, '').toLowerCase();
}

async function expectCheckViolation(pool: Pool, constraint: string, table: string, statements: string[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    let err: (Error & { code?: string; constraint?: string; table?: string }) | undefined;
    try {
      for (const sql of statements) await client.query(sql);
    } catch (e) {
      err = e as typeof err;
    }
    await client.query('ROLLBACK');
    assert.ok(err, `expected ${table}.${constraint} to reject: ${statements.at(-1)}`);
    assert.equal(err.code, '23514', `SQLSTATE for ${table}.${constraint}: ${err.message}`);
    assert.equal(err.constraint, constraint, `constraint named in the error of: ${statements.at(-1)}`);
    // A row routed into a partition is reported against the leaf (metrics_pYYYYMMDD_instance).
    assert.ok(err.table === table || err.table?.startsWith(`${table}_p`), `table ${err.table} for ${table}.${constraint}`);
  } finally {
    client.release();
  }
}

function pgError(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    const e = err as { code?: string; message?: string };
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message ?? '', pattern);
    return true;
  };
}

async function ledger(pool: Pool): Promise<{ id: number; name: string; checksum: string; applied_at: Date }[]> {
  const { rows } = await pool.query('SELECT id, name, checksum, applied_at FROM orchestry_migrations ORDER BY id');
  return rows;
}

// ---------------------------------------------------------------------------------------------

let db: TestDatabase;
let appliedOnEmpty: string[];

before(async () => {
  db = await freshDatabase({ migrated: false });
  appliedOnEmpty = await migrate(db.pool);
  for (const sql of FIXTURE) await db.pool.query(sql);
});

after(async () => {
  await db?.drop();
});

test('every migration applies to an empty database and is recorded once in the ledger with its checksum', async () => {
  const files = readMigrations();
  assert.ok(files.length >= 3);
  assert.deepEqual(appliedOnEmpty, files.map((m) => m.name));
  const rows = await ledger(db.pool);
  assert.deepEqual(
    rows.map((r) => [r.id, r.name, r.checksum]),
    files.map((m) => [m.id, m.name, m.checksum]),
  );
  assert.deepEqual(await migrationStatus(db.pool), { current: true, pending: [], applied: files.length });
});

test('every seed table and column exists with a type compatible with the seed', async () => {
  const { rows } = await db.pool.query<CatalogColumn>(
    `SELECT table_name, column_name, data_type, udt_name, character_maximum_length, is_nullable, column_default, is_identity, identity_generation
     FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
    [Object.keys(SEED_TABLES)],
  );
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(SEED_TABLES)) {
    const tableRows = rows.filter((r) => r.table_name === table);
    if (tableRows.length === 0) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    for (const [name, type] of columns) {
      const col = tableRows.find((r) => r.column_name === name);
      if (!col) {
        problems.push(`${table}.${name} is missing`);
        continue;
      }
      const p = typeProblem(table, type, col);
      if (p) problems.push(`${table}.${name}: ${p}`);
    }
  }
  assert.deepEqual(problems, []);
  // Spot checks that the comparison above is not vacuous.
  const get = (t: string, c: string) => rows.find((r) => r.table_name === t && r.column_name === c);
  assert.equal(get('instances', 'ip')?.data_type, 'inet');
  assert.equal(get('applications', 'name')?.character_maximum_length, 253);
  assert.equal(get('health_checks', 'expected_status_codes')?.udt_name, '_int4');
});

test('every seed NOT NULL holds, and the only extra NOT NULLs are the documented partition keys', async () => {
  const { rows } = await db.pool.query<CatalogColumn>(
    `SELECT table_name, column_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
    [Object.keys(SEED_TABLES)],
  );
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(SEED_TABLES)) {
    for (const [name, , notNull] of columns) {
      const col = rows.find((r) => r.table_name === table && r.column_name === name);
      const actual = col?.is_nullable === 'NO';
      if (notNull && !actual) problems.push(`${table}.${name} should be NOT NULL`);
      if (!notNull && actual && !(`${table}.${name}` in COLUMN_DEVIATIONS)) problems.push(`${table}.${name} is NOT NULL, the seed allows NULL`);
    }
  }
  assert.deepEqual(problems, []);
});

test('every seed column default is the seed default, and a minimal row gets them', async () => {
  const { rows } = await db.pool.query<CatalogColumn>(
    `SELECT table_name, column_name, column_default, is_identity FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
    [Object.keys(SEED_TABLES)],
  );
  const problems: string[] = [];
  for (const [table, columns] of Object.entries(SEED_TABLES)) {
    for (const [name, type, , dflt] of columns) {
      if (type === 'SERIAL') continue; // checked as a type
      const col = rows.find((r) => r.table_name === table && r.column_name === name);
      const actual = normalizeDefault(col?.column_default ?? null);
      const want = dflt?.toLowerCase();
      if (actual !== want) problems.push(`${table}.${name}: default ${col?.column_default ?? '(none)'}, seed says ${dflt ?? '(none)'}`);
    }
  }
  assert.deepEqual(problems, []);

  // And on a real row: the defaults land.
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: app } = await client.query(
      `INSERT INTO applications (name, spec) VALUES ('defaults', '{}') RETURNING status, replicas, desired_replicas, mode, created_at = now() AS now_ok`,
    );
    assert.deepEqual(app[0], { status: 'registered', replicas: 0, desired_replicas: 0, mode: 'auto', now_ok: true });
    const { rows: hc } = await client.query(
      `INSERT INTO health_checks (app_name, port) VALUES ('defaults', 80)
       RETURNING protocol, method, expected_status_codes, initial_delay_seconds, period_seconds, timeout_seconds, failure_threshold, success_threshold, enabled`,
    );
    assert.deepEqual(hc[0], {
      protocol: 'HTTP', method: 'GET', expected_status_codes: [200], initial_delay_seconds: 30, period_seconds: 30,
      timeout_seconds: 5, failure_threshold: 3, success_threshold: 1, enabled: true,
    });
    const { rows: sp } = await client.query(
      `INSERT INTO scaling_policies (app_name) VALUES ('defaults')
       RETURNING min_replicas, max_replicas, max_cpu_percent, latency_weight, connection_weight, scale_out_threshold_pct, scale_in_threshold_pct`,
    );
    assert.deepEqual(sp[0], {
      min_replicas: 1, max_replicas: 5, max_cpu_percent: 70, latency_weight: 1.5, connection_weight: 0.8,
      scale_out_threshold_pct: 80, scale_in_threshold_pct: 30,
    });
    const { rows: ev } = await client.query(
      `INSERT INTO events (event_type, message) VALUES ('config', 'm') RETURNING event_category, severity, source, timestamp = now() AS now_ok, id`,
    );
    assert.equal(ev[0].event_category, 'application');
    assert.equal(ev[0].severity, 'info');
    assert.equal(ev[0].source, 'controller');
    assert.equal(ev[0].now_ok, true);
    assert.equal(typeof ev[0].id, 'number');
    const { rows: m } = await client.query(
      `INSERT INTO metrics (app_name, metric_type, value) VALUES ('defaults', 'rps', 1) RETURNING aggregation_level, timestamp = now() AS now_ok`,
    );
    assert.deepEqual(m[0], { aggregation_level: 'instance', now_ok: true });
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('every seed CHECK constraint exists by name on its table with the seed allowed values', async () => {
  const { rows } = await db.pool.query<{ table: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS def
     FROM pg_constraint c WHERE c.contype = 'c' AND c.conrelid = ANY($1::regclass[])`,
    [Object.keys(SEED_CHECKS)],
  );
  const problems: string[] = [];
  for (const [table, checks] of Object.entries(SEED_CHECKS)) {
    for (const [name, values] of Object.entries(checks)) {
      const row = rows.find((r) => r.table === table && r.name === name);
      if (!row) {
        problems.push(`${table}.${name} is missing`);
        continue;
      }
      if (values) {
        const actual = [...row.def.matchAll(/'([^']*)'/g)].map((m) => m[1]);
        if (JSON.stringify([...actual].sort()) !== JSON.stringify([...values].sort())) {
          problems.push(`${table}.${name} allows ${actual.join(',')}, the seed ${values.join(',')}`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.equal(Object.values(SEED_CHECKS).reduce((n, c) => n + Object.keys(c).length, 0), 26, 'the seed names 26 CHECK constraints');
});

test('each seed CHECK constraint rejects a violating row with SQLSTATE 23514 and its own name', async () => {
  const covered = new Set(VIOLATIONS.map((v) => `${v.table}.${v.constraint}`));
  for (const [table, checks] of Object.entries(SEED_CHECKS)) {
    for (const name of Object.keys(checks)) {
      if (`${table}.${name}` === 'metrics.valid_aggregation_level') continue; // its own test below
      assert.ok(covered.has(`${table}.${name}`), `no violating statement for ${table}.${name}`);
    }
  }
  for (const v of VIOLATIONS) {
    // Each statement runs alone in a transaction that rolls back; instances/events get the
    // fixture app, and an instance update is checked as well as inserts.
    await expectCheckViolation(db.pool, v.constraint, v.table, [v.sql]);
  }
  // The latest memory values land on instances by UPDATE: the same check applies there.
  await expectCheckViolation(db.pool, 'valid_memory_percent', 'instances', [INSTANCE('', ''), `UPDATE instances SET memory_percent = 101 WHERE container_id = 'c-1'`]);
  // The valid values themselves pass: one row with every column at an allowed edge.
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(INSTANCE(', status, health_status, memory_percent, cpu_percent, failure_count', `, 'draining', 'starting', 100, 0, 0`).replace('8080', '65535'));
    await client.query(POLICY('min_replicas, max_replicas, scale_in_threshold_pct, scale_out_threshold_pct, cpu_weight', '0, 1, 1, 100, 0'));
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('metrics.valid_aggregation_level rejects a bogus level by name, behind partition routing that rejects it first', async () => {
  // aggregation_level is the key of each day's LIST sub-partition, so an unknown level finds no
  // partition (23514 too, without a constraint name) before any CHECK runs.
  await assert.rejects(
    db.pool.query(`INSERT INTO metrics (app_name, metric_type, value, aggregation_level) VALUES ('app-a', 'rps', 1, 'bogus')`),
    pgError('23514', /no partition/),
  );
  // With a DEFAULT partition under today's day partition (inside a rolled-back transaction), the
  // row is routed, and the seed's CHECK itself rejects it.
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ parent: string }>(
      `WITH r AS (INSERT INTO metrics (app_name, metric_type, value) VALUES ('app-a', 'rps', 1) RETURNING tableoid)
       SELECT i.inhparent::regclass::text AS parent FROM r JOIN pg_inherits i ON i.inhrelid = r.tableoid`,
    );
    const parent = rows[0]?.parent;
    assert.ok(parent && parent !== 'metrics', `today's metrics row sits in a sub-partition (parent ${parent})`);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
  const { rows } = await db.pool.query<{ parent: string }>(
    `SELECT i.inhparent::regclass::text AS parent FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhparent
     WHERE c.relname LIKE 'metrics\\_p%' AND c.relkind = 'p'
       AND pg_get_expr(c.relpartbound, c.oid) LIKE '%' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' 00:00:00+00''%TO%' LIMIT 1`,
  );
  const today = rows[0]?.parent;
  assert.ok(today, "today's metrics day partition exists");
  await expectCheckViolation(db.pool, 'valid_aggregation_level', 'metrics', [
    `CREATE TABLE metrics_probe_default PARTITION OF ${today} DEFAULT`,
    `INSERT INTO metrics (app_name, metric_type, value, aggregation_level) VALUES ('app-a', 'rps', 1, 'bogus')`,
  ]);
  const { rows: leftover } = await db.pool.query(`SELECT to_regclass('metrics_probe_default') AS t`);
  assert.equal(leftover[0].t, null);
});

test('every seed index exists with the seed key list, except the two that PostgreSQL cannot build and the three measured away on metrics', async () => {
  const { rows } = await db.pool.query<{ name: string; table: string; method: string; def: string }>(
    `SELECT ic.relname AS name, t.relname AS table, am.amname AS method, pg_get_indexdef(ic.oid) AS def
     FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
     JOIN pg_am am ON am.oid = ic.relam JOIN pg_namespace n ON n.oid = ic.relnamespace
     WHERE n.nspname = 'public'`,
  );
  const { rows: viaView } = await db.pool.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`);
  const problems: string[] = [];
  for (const [name, want] of Object.entries(SEED_INDEXES)) {
    const idx = rows.find((r) => r.name === name);
    if (!idx || !viaView.some((v) => v.indexname === name)) {
      problems.push(`${name} is missing`);
      continue;
    }
    if (idx.table !== want.table) problems.push(`${name} is on ${idx.table}, not ${want.table}`);
    if (idx.method !== (want.method ?? 'btree')) problems.push(`${name} uses ${idx.method}`);
    const m = /USING \w+ \((.*?)\)(?: WHERE (.*))?$/.exec(idx.def);
    const keys = m?.[1] ?? '';
    if (normalizeKeys(keys) !== normalizeKeys(want.keys)) problems.push(`${name} keys (${keys}), seed (${want.keys})`);
    const where = m?.[2];
    if (want.where) {
      const vals = [...(where ?? '').matchAll(/'([^']*)'/g)].map((x) => x[1]).sort();
      if (JSON.stringify(vals) !== JSON.stringify([...want.where].sort())) problems.push(`${name} predicate ${where}`);
    } else if (where) problems.push(`${name} has a predicate the seed does not: ${where}`);
  }
  assert.deepEqual(problems, []);
  // idx_applications_spec_image: a btree on the expression (the seed's GIN cannot exist), and it is
  // usable for the seed's lookup "applications running image X".
  const spec = rows.find((r) => r.name === 'idx_applications_spec_image');
  assert.equal(spec?.method, 'btree');
  assert.match(spec?.def ?? '', /\(spec -> 'spec'::text\) ->> 'image'::text/);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows: plan } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT name FROM applications WHERE spec->'spec'->>'image' = 'nginx:alpine'`);
    assert.match(plan.map((p) => p['QUERY PLAN']).join('\n'), /idx_applications_spec_image/);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('the metrics index set: each index serves a query (EXPLAIN), and the replaced seed indexes are made by 000001 and dropped by 000008', async () => {
  const { rows: set } = await db.pool.query<{ name: string; method: string; def: string }>(
    `SELECT ic.relname AS name, am.amname AS method, pg_get_indexdef(ic.oid) AS def
       FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am am ON am.oid = ic.relam
      WHERE x.indrelid = 'metrics'::regclass AND NOT x.indisprimary ORDER BY 1`,
  );
  assert.deepEqual(set.map((r) => [r.name, r.method]), [['idx_metrics_app_type_time', 'btree'], ['idx_metrics_timestamp_brin', 'brin']]);
  const files = readMigrations();
  for (const [name, keys] of Object.entries(REPLACED_INDEXES)) {
    assert.match(files[0]!.sql, new RegExp(`CREATE INDEX ${name} ON metrics\\(${keys.replace(/ /g, ' ?')}\\)`), `000001 creates ${name} as the seed wrote it`);
    assert.match(files.find((f) => f.id === 8)!.sql, new RegExp(`^DROP INDEX ${name};$`, 'm'), `000008 drops ${name}`);
  }
  // Which index of metrics (the partitions' indexes traced to their parent) a query plans on, over
  // 20 hours of samples (50 apps x 5 types, every 10 s) inserted, analysed and rolled back.
  const plannedIndexes = async (sql: string): Promise<string[]> => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO metrics (app_name, metric_type, timestamp, value, aggregation_level)
        SELECT 'app-' || a, t, now() - make_interval(secs => s * 10), 1, 'instance'
          FROM generate_series(1, 7200) s, generate_series(1, 50) a,
               unnest(ARRAY['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections']) t`);
      await client.query('ANALYZE metrics');
      const { rows: plan } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
      const names = [...new Set(plan.flatMap((p) => [...p['QUERY PLAN'].matchAll(/Index (?:Only )?Scan (?:Backward )?(?:using|on) (\S+)/g)].map((m) => m[1]!)))];
      const { rows } = await client.query<{ parent: string }>(
        `SELECT DISTINCT coalesce(root.relname, c.relname) AS parent
           FROM pg_class c LEFT JOIN LATERAL (
             SELECT p.relname FROM pg_partition_ancestors(c.oid) a JOIN pg_class p ON p.oid = a.relid
              WHERE p.relname LIKE 'idx_metrics%') root ON true
          WHERE c.relname = ANY($1) ORDER BY 1`,
        [names],
      );
      return rows.map((r) => r.parent);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  };
  assert.deepEqual(
    await plannedIndexes(`SELECT metric_type, avg(value) FROM metrics WHERE app_name = 'web' AND timestamp >= now() - interval '5 minutes'
                           AND metric_type IN ('cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections') GROUP BY metric_type`),
    ['idx_metrics_app_type_time'],
    "the seed's window query",
  );
  assert.deepEqual(
    await plannedIndexes(`SELECT app_name, metric_type, count(*) FROM metrics WHERE aggregation_level = 'instance'
                           AND timestamp >= now() - interval '2 hours' AND timestamp < now() - interval '1 hour' GROUP BY 1, 2`),
    ['idx_metrics_timestamp_brin'],
    "the rollups job's time-range scan",
  );
});

test('the seed indexes with NOW() in their predicate are absent, and the migrations say why', async () => {
  const { rows } = await db.pool.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE indexname = ANY($1)`, [IMPOSSIBLE_INDEXES]);
  assert.deepEqual(rows, []);
  // No index anywhere (including on partitions) carries a NOW() predicate under another name.
  const { rows: volatile } = await db.pool.query(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE pg_get_expr(indpred, indrelid) ILIKE '%now()%'`);
  assert.deepEqual(volatile, []);
  const sql = readMigrations().map((m) => m.sql).join('\n');
  for (const name of IMPOSSIBLE_INDEXES) {
    const comment = sql.split('\n').find((line) => line.trimStart().startsWith('--') && line.includes(name));
    assert.ok(comment, `a migration comment documents why ${name} is not created`);
    assert.ok(!new RegExp(`CREATE\\s+INDEX\\s+${name}\\b`, 'i').test(sql), `${name} is not created`);
  }
});

test('metrics and events are range-partitioned by timestamp, with partitions for today and the next 3 days', async () => {
  const { rows } = await db.pool.query<{ table: string; strategy: string; key: string }>(
    `SELECT p.partrelid::regclass::text AS table, p.partstrat AS strategy, a.attname AS key
     FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid IN ('metrics'::regclass, 'events'::regclass) AND p.partnatts = 1 ORDER BY 1`,
  );
  assert.deepEqual(rows, [
    { table: 'events', strategy: 'r', key: 'timestamp' },
    { table: 'metrics', strategy: 'r', key: 'timestamp' },
  ]);
  for (const table of ['metrics', 'events']) {
    // Bounds of the direct children, compared with UTC days from the database's own clock.
    const { rows: days } = await db.pool.query<{ day: string; covered: boolean }>(
      `WITH d AS (
         SELECT ((now() AT TIME ZONE 'UTC')::date + k) AS day FROM generate_series(0, 3) AS k
       ), bounds AS (
         SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)')) AS b
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass
       )
       SELECT d.day::text AS day,
              EXISTS (SELECT 1 FROM bounds WHERE b[1]::timestamptz <= d.day::timestamp AT TIME ZONE 'UTC'
                                              AND b[2]::timestamptz >= (d.day + 1)::timestamp AT TIME ZONE 'UTC') AS covered
       FROM d ORDER BY d.day`,
      [table],
    );
    assert.equal(days.length, 4);
    for (const d of days) assert.ok(d.covered, `${table} has a partition for ${d.day}`);
  }
  // And rows for each of those days land in a partition (no DEFAULT partition catches them).
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    for (let k = 0; k <= 3; k++) {
      const at = `((now() AT TIME ZONE 'UTC')::date + ${k} + time '12:00') AT TIME ZONE 'UTC'`;
      for (const level of ['instance', 'app', 'system']) {
        const { rows: m } = await client.query<{ leaf: string; bound: string }>(
          `WITH r AS (INSERT INTO metrics (app_name, metric_type, value, aggregation_level, timestamp) VALUES ('app-a', 'rps', 1, $1, ${at}) RETURNING tableoid)
           SELECT c.relname AS leaf, pg_get_expr(c.relpartbound, c.oid) AS bound FROM r JOIN pg_class c ON c.oid = r.tableoid`,
          [level],
        );
        assert.ok(m[0] && m[0].leaf.startsWith('metrics_') && m[0].bound !== 'DEFAULT', `metrics ${level} row of day +${k} in ${m[0]?.leaf}`);
      }
      const { rows: e } = await client.query<{ leaf: string; bound: string }>(
        `WITH r AS (INSERT INTO events (event_type, message, timestamp) VALUES ('health', 'm', ${at}) RETURNING tableoid)
         SELECT c.relname AS leaf, pg_get_expr(c.relpartbound, c.oid) AS bound FROM r JOIN pg_class c ON c.oid = r.tableoid`,
      );
      assert.ok(e[0] && e[0].leaf.startsWith('events_') && e[0].bound !== 'DEFAULT', `events row of day +${k} in ${e[0]?.leaf}`);
    }
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('metrics and events ids are bigint identity columns and their primary keys include timestamp', async () => {
  const { rows } = await db.pool.query(
    `SELECT table_name, data_type, is_identity FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name IN ('metrics', 'events') AND column_name = 'id' ORDER BY table_name`,
  );
  assert.deepEqual(rows, [
    { table_name: 'events', data_type: 'bigint', is_identity: 'YES' },
    { table_name: 'metrics', data_type: 'bigint', is_identity: 'YES' },
  ]);
  const { rows: pks } = await db.pool.query<{ table: string; cols: string[] }>(
    `SELECT c.conrelid::regclass::text AS table, array_agg(a.attname::text ORDER BY a.attname) AS cols
     FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
     WHERE c.contype = 'p' AND c.conrelid IN ('metrics'::regclass, 'events'::regclass) GROUP BY 1 ORDER BY 1`,
  );
  assert.equal(pks.length, 2);
  for (const pk of pks) {
    assert.ok(pk.cols.includes('id') && pk.cols.includes('timestamp'), `${pk.table} primary key (${pk.cols.join(', ')})`);
  }
  // The identity hands out values past 2^31 (the seed's SERIAL would stop there).
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT setval(pg_get_serial_sequence('metrics', 'id'), 3000000000)`);
    const { rows: m } = await client.query<{ id: number }>(`INSERT INTO metrics (app_name, metric_type, value) VALUES ('app-a', 'rps', 1) RETURNING id`);
    assert.equal(m[0]?.id, 3000000001);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('the seed foreign keys and unique constraints hold, except the documented metrics → applications key', async () => {
  const { rows } = await db.pool.query<{ table: string; col: string; ref: string; del: string }>(
    `SELECT c.conrelid::regclass::text AS table, a.attname AS col, c.confrelid::regclass::text AS ref, c.confdeltype AS del
     FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     WHERE c.contype = 'f' AND c.conrelid = ANY($1::regclass[]) AND c.conparentid = 0 ORDER BY 1`,
    [Object.keys(SEED_TABLES)],
  );
  // Seed: ON DELETE CASCADE ('c') everywhere but events (SET NULL, 'n'). metrics' key is left out
  // on purpose (COPY throughput, and retention drops partitions instead of cascading deletes).
  assert.deepEqual(rows, [
    { table: 'events', col: 'app_name', ref: 'applications', del: 'n' },
    { table: 'health_checks', col: 'app_name', ref: 'applications', del: 'c' },
    { table: 'instances', col: 'app_name', ref: 'applications', del: 'c' },
    { table: 'scaling_policies', col: 'app_name', ref: 'applications', del: 'c' },
  ]);
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(INSTANCE('', ''));
    await client.query('SAVEPOINT a');
    await assert.rejects(client.query(INSTANCE('', '').replace("'c-1'", "'c-2'")), pgError('23505'), 'UNIQUE (app_name, replica_index)');
    await client.query('ROLLBACK TO SAVEPOINT a');
    await assert.rejects(client.query(INSTANCE('', '').replace('1, ', '2, ')), pgError('23505'), 'container_id UNIQUE');
    await client.query('ROLLBACK TO SAVEPOINT a');
    await client.query(HEALTH('', ''));
    await assert.rejects(client.query(HEALTH('', '')), pgError('23505'), 'health_checks UNIQUE (app_name)');
    await client.query('ROLLBACK TO SAVEPOINT a');
    await assert.rejects(client.query(`INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port) VALUES ('nope', 'c-9', 'x', 0, '10.0.0.9', 80)`), pgError('23503'));
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

test('a second migrate is a no-op: nothing applied, the ledger and the catalog unchanged', async () => {
  const before = await ledger(db.pool);
  const objects = async () =>
    (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`)).rows[0]?.n;
  const count = await objects();
  assert.deepEqual(await migrate(db.pool), []);
  assert.deepEqual(await ledger(db.pool), before);
  assert.equal(await objects(), count);
});

test('two concurrent migrate calls on an empty database both succeed and apply each migration once', async () => {
  const empty = await freshDatabase({ migrated: false });
  const other = createPool({ url: empty.url, poolMax: 2, ssl: 'disable', sslCaFile: undefined, statementTimeoutMs: 0 });
  try {
    const [a, b] = await Promise.all([migrate(empty.pool), migrate(other)]);
    const all = readMigrations().map((m) => m.name);
    // One of them applied everything; the other waited on the advisory lock and found nothing to do.
    assert.deepEqual([a, b].sort((x, y) => y.length - x.length), [all, []]);
    const { rows } = await empty.pool.query<{ id: number; n: number }>('SELECT id, count(*)::int AS n FROM orchestry_migrations GROUP BY id ORDER BY id');
    assert.deepEqual(rows, all.map((_, i) => ({ id: i + 1, n: 1 })));
    // And the schema is complete: the migrated tables exist once.
    const { rows: tables } = await empty.pool.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)`, [Object.keys(SEED_TABLES)]);
    assert.equal(tables[0].n, Object.keys(SEED_TABLES).length);
  } finally {
    await other.end();
    await empty.drop();
  }
});

test('an applied migration that was edited afterwards is refused, and nothing newer is applied', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'orchestry-migrations-'));
  const empty = await freshDatabase({ migrated: false });
  try {
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const original = readMigrations(dir);
    assert.deepEqual(original.map((m) => m.checksum), readMigrations().map((m) => m.checksum), 'the copy is the real migrations');
    assert.equal((await migrate(empty.pool, { dir })).length, original.length);

    const first = original[0]!;
    const path = join(dir, first.name);
    const text = await readFile(path, 'utf8');
    await writeFile(path, `${text}\n-- an innocent-looking edit\n`);
    // A new migration next to it must not run while an applied one was edited.
    const nextName = `${String(original.length + 1).padStart(6, '0')}_after_edit.sql`;
    await writeFile(join(dir, nextName), 'CREATE TABLE after_edit (id int);\n');
    assert.notEqual(readMigrations(dir)[0]?.checksum, first.checksum);

    await assert.rejects(migrate(empty.pool, { dir }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_MIGRATION_CHANGED');
      assert.match(err.message, new RegExp(`${first.name}.*edited`));
      return true;
    });
    await assert.rejects(migrationStatus(empty.pool, dir), /edited/);
    const { rows } = await empty.pool.query(`SELECT to_regclass('after_edit') AS t, (SELECT count(*)::int FROM orchestry_migrations) AS n`);
    assert.deepEqual(rows[0], { t: null, n: original.length });

    // Restoring the file lets the new migration through.
    await writeFile(path, text);
    assert.deepEqual(await migrate(empty.pool, { dir }), [nextName]);

    // A database that has a migration this code does not know is refused too.
    await unlink(join(dir, nextName));
    await assert.rejects(migrate(empty.pool, { dir }), (err: Error & { code?: string }) => err.code === 'E_MIGRATION_CHANGED' && /does not know/.test(err.message));
  } finally {
    await empty.drop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('every foreign key leads an index on its referencing table, so deleting a referenced row looks it up instead of scanning', async () => {
  const { rows } = await db.pool.query<{ fk: string; indexed: boolean }>(`
    SELECT c.conrelid::regclass || '.' || c.conname AS fk,
           EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indrelid = c.conrelid AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey) AS indexed
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
     WHERE c.contype = 'f' AND NOT t.relispartition
     ORDER BY 1`);
  assert.ok(rows.some((r) => r.fk === 'job_runs.job_runs_retry_of_fkey'), 'the self-reference of job_runs is among them');
  assert.deepEqual(rows.filter((r) => !r.indexed).map((r) => r.fk), []);
});
