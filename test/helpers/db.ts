// One fresh database per test file, cloned from a migrated template: the fixture lives in
// tools/fixtures/database.ts (the benchmark uses it too); tests import it from here.
export * from '../../tools/fixtures/database.ts';
