import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '#platform/embedded-postgres';
import { meterPostgres } from './cpu-meter';

/**
 * A connected client whose connection errors surface on its next query instead of as an 'error'
 * event: unhandled, that event kills the process, and with it the clean-up of the server when
 * PostgreSQL is stopped under a bench that is still running (Ctrl-C).
 */
export async function connectClient(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export interface BenchPostgres {
  /** A fresh, empty database on the bench server; each scenario takes its own so table sizes do not leak. */
  createDatabase(name: string): Promise<string>;
  /** Server facts worth keeping next to the figures (version, durability settings). */
  describe(): Promise<Record<string, string>>;
  /** Writes every dirty page out now (CHECKPOINT), so the next scenario does not pay for the last one's writes. */
  checkpoint(): Promise<void>;
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
  let stopping: Promise<void> | undefined;
  // Every caller waits for the same stop: a second caller returning early could exit the process mid-removal.
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      meterPostgres(undefined);
      try {
        await server?.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    })());
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
  // The first line of postmaster.pid is the server's pid: the CPU meter follows it and its backends.
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  meterPostgres(Number.isInteger(pid) && pid > 0 ? pid : undefined);

  const withAdmin = async <T>(work: (admin: Client) => Promise<T>): Promise<T> => {
    const admin = await connectClient(serverUrl);
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
    checkpoint: () => withAdmin(async (admin) => void (await admin.query('CHECKPOINT'))),
    describe: () =>
      withAdmin(async (admin) => {
        const names = [
          'server_version',
          'fsync',
          'synchronous_commit',
          'full_page_writes',
          'wal_sync_method',
          'shared_buffers',
          'max_wal_size',
        ];
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
