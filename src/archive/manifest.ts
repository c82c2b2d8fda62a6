// The manifest beside each archived object: what it holds (table, level, day, generation, rows,
// time range, columns and their types), its sha256 and the schema version it was written at.
// Restore trusts nothing in it that it can check: the schema here, the ledger, the object's bytes.
import { z } from 'zod';
import { IngestError } from '../errors.ts';
import { ARCHIVE_UNIT_NAME, isCalendarDay, partitionName } from '../partitions/index.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

const common = {
  partition: z.string().regex(ARCHIVE_UNIT_NAME),
  parent: z.enum(['metrics', 'events']),
  level: z.enum(['instance', 'app']).nullable(),
  day: z.string().regex(DAY).refine(isCalendarDay, 'is not a calendar day'),
  generation: z.number().int().min(1),
  rows: z.number().int().min(0),
  minTime: z.string().nullable(),
  maxTime: z.string().nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  schemaVersion: z.number().int().min(1),
  createdAt: z.string(),
};

/** Written by this version: Parquet or COPY text, columns with their PostgreSQL types. */
const v2 = z.strictObject({
  format: z.literal('orchestry-archive/2'),
  encoding: z.enum(['parquet', 'copy-gzip']),
  object: z.string().min(1),
  columns: z.array(z.strictObject({ name: z.string().min(1), type: z.string().min(1) })).min(1),
  ...common,
});

/** Written before Parquet: always gzip'd COPY text, column names only. */
const v1 = z.strictObject({
  format: z.literal('orchestry-archive/1'),
  file: z.string().min(1),
  columns: z.array(z.string().min(1)).min(1),
  ...common,
});

export type Manifest = z.infer<typeof v2>;

/** Parses and checks a manifest's text; a v1 manifest comes back in the v2 shape. Throws E_ARCHIVE_REFUSED. */
export function parseManifest(text: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new IngestError('E_ARCHIVE_REFUSED', `${where}: manifest is not JSON`, false, { cause: err });
  }
  // Checked against the schema of the format it names, so the reasons point at the bad fields.
  const r = ((json as { format?: unknown } | null)?.format === 'orchestry-archive/1' ? v1 : v2).safeParse(json);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(manifest)'}: ${i.message}`).join('; ');
    throw new IngestError('E_ARCHIVE_REFUSED', `${where}: manifest refused: ${why}`);
  }
  const m: Manifest = r.data.format === 'orchestry-archive/2'
    ? r.data
    : (({ file, columns, ...rest }) => ({ ...rest, format: 'orchestry-archive/2' as const, encoding: 'copy-gzip' as const, object: file, columns: columns.map((name) => ({ name, type: '' })) }))(r.data);
  const problems: string[] = [];
  if ((m.parent === 'metrics') !== (m.level !== null)) problems.push(`level ${String(m.level)} does not fit table ${m.parent}`);
  if (m.partition !== partitionName(m.parent, m.day, m.level ?? undefined)) problems.push(`partition ${m.partition} is not the one of ${m.parent} on ${m.day}${m.level ? ` at level ${m.level}` : ''}`);
  if (problems.length > 0) throw new IngestError('E_ARCHIVE_REFUSED', `${where}: manifest refused: ${problems.join('; ')}`);
  return m;
}

/** The object's key in a Hive layout (table=…/level=…/day=…/part-NNNNN.parquet) or, for copy-gzip, the flat name used before. */
export function objectKey(m: Pick<Manifest, 'parent' | 'level' | 'day' | 'generation' | 'partition'>, encoding: Manifest['encoding']): string {
  if (encoding === 'copy-gzip') return `${m.generation > 1 ? `${m.partition}.g${m.generation}` : m.partition}.copy.gz`;
  const level = m.level ? `level=${m.level}/` : '';
  return `table=${m.parent}/${level}day=${m.day}/part-${String(m.generation - 1).padStart(5, '0')}.parquet`;
}

export const manifestKeyFor = (key: string) => key.replace(/\.(parquet|copy\.gz)$/, '') + '.manifest.json';
