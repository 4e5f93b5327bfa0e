import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '#platform/embedded-postgres';

/** One embedded PostgreSQL for the whole run; every test file creates its own databases on it. */
export default async function globalSetup(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-test-pg-'));
  const postgres = await startEmbeddedPostgres({
    dataDir,
    ephemeral: true,
    // Durability is not under test here; the bench measures with fsync on.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
  });
  process.env.TESSERA_TEST_POSTGRES_URL = postgres.url;
  if (!process.env.EVENTSTORE_TEST_URL) {
    // Said once per run rather than as a skipped test: no real EventStoreDB was asked anything.
    process.stderr.write('\nNOT RUN: the event-store contract against a real EventStoreDB (set EVENTSTORE_TEST_URL=esdb://… to run it)\n');
  }
  (globalThis as { __tesseraPostgres?: { stop(): Promise<void> } }).__tesseraPostgres = postgres;
}
