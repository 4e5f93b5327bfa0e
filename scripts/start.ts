/**
 * `npm start`: everything on one laptop with nothing installed. Starts an embedded PostgreSQL under
 * ./.data (unless DATABASE_URL or EVENTSTORE_URL point elsewhere), the services as child processes
 * the way they run in production, creates the demo tenant and prints how to use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { databaseUrl, startEmbeddedPostgres, type RunningPostgres } from '#platform/embedded-postgres';

const root = resolve(__dirname, '..', '..');
const dataDir = join(root, '.data');

interface ServiceSpec {
  readonly name: string;
  readonly port: number;
  readonly env?: Record<string, string>;
}

const LOGIN_URL = 'http://localhost:3001';
/** Where mails link to and where login's sign-in page sends people to sign up or reset a password. */
const REGISTER_URL = 'http://localhost:3002';
const JOURNEYS = { LOGIN_PUBLIC_URL: LOGIN_URL, REGISTER_PUBLIC_URL: REGISTER_URL };

/** Register first: the others follow its tenants through the event store. */
const services: ServiceSpec[] = [
  // Register streams exports, fetching pulse's and rewards' sections from them (login's from LOGIN_PUBLIC_URL).
  {
    name: 'register',
    port: 3002,
    env: { ...JOURNEYS, PULSE_INTERNAL_URL: 'http://127.0.0.1:3003', REWARDS_INTERNAL_URL: 'http://127.0.0.1:3004' },
  },
  { name: 'login', port: 3001, env: JOURNEYS },
  { name: 'pulse', port: 3003 },
  // Members' own routes (/t/{tenant}/me/...) take login's access tokens.
  { name: 'rewards', port: 3004, env: { LOGIN_PUBLIC_URL: LOGIN_URL } },
];

interface DevSecrets {
  adminToken: string;
  masterKey: string;
}

/** Generated once and kept: a new master key at every start would make all stored personal data unreadable. */
function devSecrets(): DevSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  const secrets = { adminToken: randomBytes(32).toString('base64url'), masterKey: randomBytes(32).toString('base64') };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(serverUrl, name);
}

function startService(spec: ServiceSpec, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [join(root, 'dist', 'apps', spec.name, 'src', 'main.js')], {
    env: { ...env, PORT: String(spec.port), ...spec.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${spec.name} exited (${signal ?? code}); stopping everything\n`);
      void stop(1);
    }
  });
  return child;
}

async function waitUntilReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
}

interface DemoTenant {
  id: string;
  slug: string;
  writeKey: string;
  apiKey: string;
}

/** Keys are shown once by the API and stored only as hashes; the dev copy lives in .data for the next start. */
async function demoTenant(registerUrl: string, adminToken: string): Promise<DemoTenant | undefined> {
  const file = join(dataDir, 'demo-tenant.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoTenant;
  const response = await fetch(`${registerUrl}/admin/tenants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ slug: 'demo', name: 'Demo' }),
  });
  if (response.status !== 201) return undefined;
  const tenant = (await response.json()) as DemoTenant;
  writeFileSync(file, JSON.stringify(tenant, null, 2), { mode: 0o600 });
  return tenant;
}

interface DemoClient {
  clientId: string;
}

const DEMO_REDIRECT_URI = 'http://localhost:8080/callback';

/**
 * A public client (PKCE, no secret) for the demo tenant, so a newcomer can sign in from a browser.
 * Login learns of the tenant from register's events, so the first attempts may find it unknown yet.
 */
async function demoClient(loginUrl: string, adminToken: string): Promise<DemoClient | undefined> {
  const file = join(dataDir, 'demo-client.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoClient;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const response = await fetch(`${loginUrl}/admin/tenants/demo/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Demo app',
        type: 'public',
        redirectUris: [DEMO_REDIRECT_URI],
        postLogoutRedirectUris: ['http://localhost:8080/'],
      }),
    });
    if (response.status === 201) {
      const client = (await response.json()) as DemoClient;
      writeFileSync(file, JSON.stringify(client, null, 2), { mode: 0o600 });
      return client;
    }
    if (response.status !== 404) {
      process.stderr.write(`demo client: login answered ${response.status} ${await response.text()}\n`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}

let stopping = false;
const children: ChildProcess[] = [];
let postgres: RunningPostgres | undefined;

async function stop(code: number): Promise<never> {
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
    ),
  );
  await postgres?.stop().catch(() => undefined);
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const secrets = devSecrets();
  let database = process.env.DATABASE_URL;
  if (!database) {
    postgres = await startEmbeddedPostgres({
      dataDir: join(dataDir, 'postgres'),
      port: Number(process.env.EMBEDDED_POSTGRES_PORT ?? 54329),
    });
    database = await ensureDatabase(postgres.url, 'tessera');
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: process.env.NODE_ENV ?? 'development',
    DATABASE_URL: database,
    ADMIN_TOKEN: process.env.ADMIN_TOKEN ?? secrets.adminToken,
    TESSERA_MASTER_KEY: process.env.TESSERA_MASTER_KEY ?? secrets.masterKey,
    SHUTDOWN_DRAIN_MS: process.env.SHUTDOWN_DRAIN_MS ?? '0',
    // A person reads these logs: one line per record. Services log JSON wherever LOG_FORMAT is unset.
    LOG_FORMAT: process.env.LOG_FORMAT ?? 'pretty',
  };
  for (const spec of services) children.push(startService(spec, env));
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const registerUrl = 'http://127.0.0.1:3002';
  await Promise.all(services.map((spec) => waitUntilReady(`http://127.0.0.1:${spec.port}`)));
  const demo = await demoTenant(registerUrl, env.ADMIN_TOKEN!);
  const client = demo ? await demoClient('http://127.0.0.1:3001', env.ADMIN_TOKEN!) : undefined;
  const lines = [
    '',
    'Tessera is running',
    ...services.map((spec) => `  ${spec.name.padEnd(9)} http://localhost:${spec.port}   (API docs: /docs)`),
    `  event store: ${env.EVENTSTORE_URL ? 'EventStoreDB' : postgres ? `embedded PostgreSQL (${join('.data', 'postgres')})` : 'PostgreSQL (DATABASE_URL)'}`,
    '',
    `ADMIN_TOKEN=${env.ADMIN_TOKEN}`,
    demo
      ? `demo tenant: slug=${demo.slug} writeKey=${demo.writeKey} apiKey=${demo.apiKey}`
      : 'demo tenant: exists, but its keys were not kept in .data/demo-tenant.json',
    client
      ? `demo client (public, PKCE): client_id=${client.clientId} redirect_uri=${DEMO_REDIRECT_URI}`
      : 'demo client: not created (see the message above)',
    `  issuer: ${LOGIN_URL}/t/demo   (sign-in walk-through: apps/login/README.md)`,
    // The dev mailbox answers only this machine, and only with the admin token.
    env.SMTP_URL ? '' : `mails (dev mailbox): curl -s -H 'authorization: Bearer ${env.ADMIN_TOKEN}' ${registerUrl}/dev/mailbox`,
    '',
    'try:',
    `  sign up:  curl -s -X POST ${registerUrl}/t/demo/users -H 'content-type: application/json' -d '{"email":"you@example.com","password":"a long passphrase"}'`,
    demo
      ? `  track:    curl -s -u '${demo.writeKey}:' http://localhost:3003/v1/track -H 'content-type: application/json' -d '{"userId":"u1","event":"Order Completed","properties":{"total":42}}'`
      : '',
    demo ? `  profile:  curl -s -H 'authorization: Bearer ${demo.apiKey}' http://localhost:3003/t/demo/profiles/userId/u1` : '',
    demo
      ? `  points:   curl -s -H 'authorization: Bearer ${demo.apiKey}' http://localhost:3004/t/demo/members/u1   (once a program is set: apps/rewards/README.md)`
      : '',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch(async (error: unknown) => {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await stop(1);
});
