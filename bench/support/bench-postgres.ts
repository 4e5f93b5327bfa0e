import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '../../libs/platform/src/embedded-postgres';

export interface BenchPostgres {
  /** A fresh, empty database on the bench server; each scenario takes its own so table sizes do not leak. */
  createDatabase(name: string): Promise<string>;
  /** Server facts worth keeping next to the figures (version, durability settings). */
  describe(): Promise<Record<string, string>>;
  /** Stops the server and deletes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * One embedded PostgreSQL for the whole bench, with production durability: the tests turn fsync
 * and synchronous_commit off, which would make every append look several times cheaper than it is
 * in production. They are spelled out here so a changed default cannot silently skew the figures.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-pg-'));
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await server?.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  try {
    server = await startEmbeddedPostgres({
      dataDir,
      ephemeral: true,
      settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
    });
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const serverUrl = server.url;

  const withAdmin = async <T>(work: (admin: Client) => Promise<T>): Promise<T> => {
    const admin = new Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.end();
    }
  };

  return {
    createDatabase: (name) =>
      withAdmin(async (admin) => {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        await admin.query(`CREATE DATABASE ${name}`);
        return databaseUrl(serverUrl, name);
      }),
    describe: () =>
      withAdmin(async (admin) => {
        const names = ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_wal_size'];
        const facts: Record<string, string> = {};
        for (const name of names) {
          const { rows } = await admin.query<Record<string, string>>(`SHOW ${name}`);
          facts[name] = Object.values(rows[0] ?? {})[0] ?? '';
        }
        return facts;
      }),
    stop,
  };
}
