// `stack up --with-s3`: S3Proxy from Maven in the local stack, on its own temporary root (the
// Maven cache is the shared one): it prints working S3_* and ARCHIVE_URL lines, and `down` stops it.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { destinationFor, getText } from '../../src/archive/destination.ts';
import { loadConfig } from '../../src/config.ts';
import { secretsOf } from '../../src/log.ts';
import { stackDown, stackUp } from '../../tools/stack/index.ts';
import { pidAlive, waitFor } from '../../tools/stack/process.ts';
import { readState } from '../../tools/stack/state.ts';
import { tempRoot } from '../helpers/stack.ts';

test('stack up with S3 gives S3_* and ARCHIVE_URL that reach a real S3 server, reused on a second up and stopped by down', { timeout: 300_000 }, async () => {
  const root = await tempRoot();
  const given = { kafkaBrokers: '10.0.0.1:9092', databaseUrl: 'postgres://u@db.example/orchestry' };
  try {
    const up = await stackUp({ root, ...given, withS3: true });
    assert.deepEqual(Object.keys(up.s3 ?? {}).sort(), ['ARCHIVE_URL', 'S3_ACCESS_KEY_ID', 'S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'S3_REGION', 'S3_SECRET_ACCESS_KEY']);
    const config = loadConfig({ ...up.s3, LOG_LEVEL: 'silent' });
    assert.ok(secretsOf(config).includes(up.s3!.S3_SECRET_ACCESS_KEY!), 'the S3 secret is scrubbed from logs');
    const dest = destinationFor(config.archive.url, config.archive.s3);
    await dest.put('probe/hello.txt', Buffer.from('hello'));
    assert.equal(await getText(dest, 'probe/hello.txt'), 'hello');
    const again = await stackUp({ root, ...given, withS3: true });
    assert.deepEqual(again.s3, up.s3, 'reused');
    const pid = (await readState(root)).s3!.pid;
    await stackDown({ root });
    assert.ok(await waitFor(() => !pidAlive(pid), 10_000), 'S3Proxy stopped');
  } finally {
    await stackDown({ root }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
});
