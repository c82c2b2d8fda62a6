// Identifiers built at run time (partition names) go through here and nowhere else.

/** Quotes an SQL identifier as PostgreSQL's quote_ident does. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes('\0')) {
    throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** The name of the daily partition of `parent` holding the UTC day of `day`. */
export function dayPartitionName(parent: 'metrics' | 'events', day: Date): string {
  const d = day.toISOString().slice(0, 10).replace(/-/g, '');
  return `${parent}_p${d}`;
}
