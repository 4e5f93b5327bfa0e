import { eventually } from '#platform/testing';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Pool } from 'pg';
import { createServiceApp } from '#platform';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { loadLoginConfig } from '../src/login.config';
import { LoginModule } from '../src/login.module';
import { loginServiceOptions, openLoginRuntime, type LoginRuntime } from '../src/login.runtime';

export interface LoginHarness {
  readonly app: NestFastifyApplication;
  readonly runtime: LoginRuntime;
  readonly register: RegisterHarness;
  /** http://127.0.0.1:port: login listens for real, since relying parties and browsers need a socket. */
  readonly url: string;
  /** Register's own socket, when the harness was started with `journeys` (its hosted pages for a browser). */
  readonly registerUrl?: string;
  readonly adminToken: string;
  issuer(slug: string): string;
  /** A tenant created through register, once login's read model has it. */
  createTenant(slug?: string): Promise<{ id: string; slug: string }>;
  /** A person signed up through register, once login's credentials read model has them. */
  signUp(slug: string, email: string, extra?: object): Promise<{ id: string }>;
  registerClient(slug: string, body: object): Promise<{ clientId: string; clientSecret?: string }>;
  /** The error log lines of the main login process (JSON, as pino writes them). */
  readonly errorLog: readonly string[];
  /** A second login process on the same database and keys (another replica), with the same issuers. */
  startReplica(): Promise<{ url: string; app: NestFastifyApplication; close(): Promise<void> }>;
  close(): Promise<void>;
}

/** The named statements `pool` sent while `work` ran, with how often each (unnamed ones are left out). */
export async function statementsSentBy<T>(pool: Pool, work: () => Promise<T>): Promise<{ result: T; statements: Map<string, number> }> {
  const query = pool.query;
  const statements = new Map<string, number>();
  pool.query = function (this: Pool, ...args: unknown[]) {
    const [statement] = args as [{ name?: string } | string];
    if (typeof statement === 'object' && statement.name) statements.set(statement.name, (statements.get(statement.name) ?? 0) + 1);
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pool.query;
  try {
    return { result: await work(), statements };
  } finally {
    pool.query = query;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * One login process, built the way main.ts builds it, listening on 127.0.0.1 at `env.PORT` (its
 * issuers are under LOGIN_PUBLIC_URL, so the port is chosen first); `errorLog` collects its error lines.
 */
export async function startLoginApp(
  env: Record<string, string>,
  errorLog?: string[],
): Promise<{ runtime: LoginRuntime; app: NestFastifyApplication }> {
  const config = loadLoginConfig(env);
  const runtime = await openLoginRuntime(config);
  const logging = errorLog ? { logLevel: 'error' as const, logDestination: { write: (line: string) => void errorLog.push(line) } } : {};
  const app = await createServiceApp(LoginModule.forRoot(runtime), { ...loginServiceOptions(config), processMetrics: false, ...logging });
  await app.listen(config.PORT, '127.0.0.1');
  return { runtime, app };
}

/**
 * Register and login on one fresh database, sharing the master key, as `npm start` runs them.
 * With `journeys`, register listens too and each knows the other's public URL, so a browser can
 * walk from login's sign-in page to register's hosted pages and back.
 */
export async function startLogin(
  env: Record<string, string> = {},
  /** `localhost`: the public URL names the host `localhost` (WebAuthn takes a host name as RP id, not an IP address). */
  options: { journeys?: boolean; localhost?: boolean } = {},
): Promise<LoginHarness> {
  const databaseUrl = await createTestDatabase('login');
  const masterKey = randomBytes(32).toString('base64');
  const port = await freePort();
  const url = `http://${options.localhost ? 'localhost' : '127.0.0.1'}:${port}`;
  const registerUrl = options.journeys ? `http://127.0.0.1:${await freePort()}` : undefined;
  const register = await startRegister({
    DATABASE_URL: databaseUrl,
    // An event store of its own (another database) is the services' shared one.
    ...(env.EVENTSTORE_URL ? { EVENTSTORE_URL: env.EVENTSTORE_URL } : {}),
    TESSERA_MASTER_KEY: masterKey,
    ...(registerUrl ? { LOGIN_PUBLIC_URL: url, REGISTER_PUBLIC_URL: registerUrl } : {}),
  });
  if (registerUrl) await register.app.listen(Number(new URL(registerUrl).port), '127.0.0.1');
  const adminToken = randomBytes(24).toString('base64url');
  const environment = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    ADMIN_TOKEN: adminToken,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOGIN_PUBLIC_URL: url,
    ...(registerUrl ? { REGISTER_PUBLIC_URL: registerUrl } : {}),
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'silent',
    ...env,
  };
  const errorLog: string[] = [];
  const start = (listenOn: number, log?: string[]) => startLoginApp({ ...environment, PORT: String(listenOn) }, log);
  const { runtime, app } = await start(port, errorLog);
  const replicas: NestFastifyApplication[] = [];
  const pool = runtime.infrastructure.pool;
  const until = (sql: string, params: unknown[]) =>
    eventually(async () => Boolean((await pool.query(sql, params)).rowCount), { what: 'login read model to catch up' });
  return {
    app,
    runtime,
    register,
    url,
    registerUrl,
    adminToken,
    errorLog,
    issuer: (slug) => `${url}/t/${slug}`,
    async createTenant(slug) {
      const tenant = await register.createTenant(slug);
      await until('SELECT 1 FROM login_tenants WHERE tenant_id = $1', [tenant.id]);
      return tenant;
    },
    async signUp(slug, email, extra) {
      const user = await register.signUp(slug, email, extra);
      await until('SELECT 1 FROM login_credentials WHERE user_id = $1', [user.id]);
      return user;
    },
    async registerClient(slug, body) {
      const response = await fetch(`${url}/admin/tenants/${slug}/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.status !== 201) throw new Error(`client registration failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as { clientId: string; clientSecret?: string };
    },
    async startReplica() {
      const replicaPort = await freePort();
      const replica = await start(replicaPort);
      replicas.push(replica.app);
      return { url: `http://127.0.0.1:${replicaPort}`, app: replica.app, close: () => replica.app.close() };
    },
    async close() {
      for (const replica of replicas) await replica.close().catch(() => undefined);
      await app.close();
      await register.close();
    },
  };
}
