// Identifiers built at run time (partition names, from src/partitions/names.ts) are quoted here and nowhere else.

/** Quotes an SQL identifier as PostgreSQL's quote_ident does. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes('\0')) {
    throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}
