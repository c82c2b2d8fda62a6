// Partitions, one owner: UTC day arithmetic (days.ts), partition names (names.ts), what the
// catalog says about them (catalog.ts), DDL with lock timeouts and retries (ddl.ts), which are
// past their cutoff (expired.ts), and ingestion's cached ensure (day-partitions.ts).
export * from './days.ts';
export * from './names.ts';
export * from './catalog.ts';
export * from './ddl.ts';
export * from './expired.ts';
export * from './day-partitions.ts';
