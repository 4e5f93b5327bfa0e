import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'pg';
import { freePort } from '../../apps/login/test/login-harness';
import { createTestDatabase } from './database';
import { compiledEntry, compileServices } from './replicas';

/** The services with a public API. */
export type ServiceName = 'register' | 'login' | 'pulse' | 'rewards';
/** Their processes: pulse and rewards each run as API and projector, as every Kubernetes tier deploys them. */
export type ProcessName = ServiceName | 'pulse-projector' | 'rewards-projector';

/** Register first: the others follow its tenants through the event store (as `npm start` orders them). */
const PROCESSES: readonly { name: ProcessName; service: ServiceName; env?: Record<string, string> }[] = [
  { name: 'register', service: 'register' },
  { name: 'login', service: 'login' },
  { name: 'pulse', service: 'pulse', env: { PULSE_ROLE: 'ingest' } },
  { name: 'pulse-projector', service: 'pulse', env: { PULSE_ROLE: 'projector' } },
  { name: 'rewards', service: 'rewards', env: { REWARDS_ROLE: 'api' } },
  { name: 'rewards-projector', service: 'rewards', env: { REWARDS_ROLE: 'projector' } },
];
export const SERVICES: readonly ServiceName[] = ['register', 'login', 'pulse', 'rewards'];

export interface ServiceProcess {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly process: ChildProcess;
  /** The error-level lines it logged (JSON, as pino writes them), for a failure's story. */
  readonly errors: readonly string[];
}

export interface FourServices {
  readonly databaseUrl: string;
  readonly adminToken: string;
  /** A pool of the test's own on the services' database, for reading what they stored. */
  readonly pool: Pool;
  readonly services: Readonly<Record<ProcessName, ServiceProcess>>;
  /** Services that exited before `close` (a crash), with their code or signal. */
  crashes(): string[];
  close(): Promise<void>;
}

const repoRoot = resolve(__dirname, '../..');
/**
 * Apart from the drill's build: jest may run both files at once. Per checkout too: worktrees that
 * share one node_modules (a symlink) would otherwise compile over each other's build mid-run.
 */
const buildDir = join(
  repoRoot,
  'node_modules/.cache',
  `tessera-four-services-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 12)}`,
);
const entryOf = (service: ServiceName) => `apps/${service}/src/main.ts`;
/** The compiled entry point of a service, as startFourServices runs it (for a one-off command such as a Job's). */
export const fourServicesEntry = (service: ServiceName) => compiledEntry(entryOf(service), buildDir);

/**
 * Register, login, pulse and rewards as `node` processes, as deployments run them (each its own
 * event loop; pulse and rewards each as an API process and a projector, as every Kubernetes tier
 * deploys them), compiled from the current source, on one fresh database with one master key and
 * admin token. Register trusts login's access tokens. `env` adds variables to every process,
 * `perService` to a service's. `on` names the database and admin token when they are not fresh (a
 * drill's own PostgreSQL, services started again on what they left). Resolves once all are ready.
 */
export async function startFourServices(
  env: Record<string, string> = {},
  perService: Partial<Record<ServiceName, Record<string, string>>> = {},
  on: { readonly databaseUrl?: string; readonly adminToken?: string } = {},
): Promise<FourServices> {
  compileServices(SERVICES.map(entryOf), buildDir);
  const databaseUrl = on.databaseUrl ?? (await createTestDatabase('four'));
  const adminToken = on.adminToken ?? randomBytes(32).toString('base64url');
  const ports = Object.fromEntries(await Promise.all(PROCESSES.map(async ({ name }) => [name, await freePort()]))) as Record<
    ProcessName,
    number
  >;
  const urlOf = (name: ProcessName) => `http://127.0.0.1:${ports[name]}`;
  const shared = {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: adminToken,
    LOGIN_PUBLIC_URL: urlOf('login'),
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  };
  const started = new Map<ProcessName, ServiceProcess>();
  const exits: string[] = [];
  let closing = false;
  const stopAll = async () => {
    closing = true;
    await Promise.all([...started.values()].map((service) => stop(service.process)));
  };
  try {
    for (const { name, service: of, env: own } of PROCESSES) {
      // Register fetches the others' export sections from their API processes.
      const fetchesSections: Record<string, string> =
        of === 'register' ? { PULSE_INTERNAL_URL: urlOf('pulse'), REWARDS_INTERNAL_URL: urlOf('rewards') } : {};
      const environment = { ...shared, ...fetchesSections, ...perService[of], ...own, HOST: '127.0.0.1', PORT: String(ports[name]) };
      const service = spawnService(of, environment, urlOf(name));
      service.process.once('exit', (code, signal) => {
        if (!closing) exits.push(`${name} exited (${signal ?? code})`);
      });
      started.set(name, service);
      await untilReady(service, name);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  // pool.end() resolves before its idle connections have closed: a drill that stops PostgreSQL right
  // after may end one of them (57P01), which must not surface as an unhandled error of the pool.
  pool.on('error', () => undefined);
  return {
    databaseUrl,
    adminToken,
    pool,
    services: Object.fromEntries(started) as Record<ProcessName, ServiceProcess>,
    crashes: () => [...exits],
    async close() {
      await stopAll();
      await pool.end();
    },
  };
}

function spawnService(service: ServiceName, env: Record<string, string>, url: string): ServiceProcess {
  const child = spawn(process.execPath, [compiledEntry(entryOf(service), buildDir)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  const keep = (line: string) => {
    // Warnings are expected (refused input, parked events are not); errors tell what went wrong.
    if (/"level":"(error|fatal)"|^[^{]/.test(line) && errors.length < 200) errors.push(line);
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  return { url, process: child, errors };
}

async function untilReady(service: ServiceProcess, name: ProcessName): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (service.process.exitCode !== null) throw new Error(`${name} exited before it was ready:\n${service.errors.join('\n')}`);
    const ready = await fetch(`${service.url}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${name} was not ready within 60 s:\n${service.errors.join('\n')}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

/** SIGTERM (a graceful stop, drained at once), then SIGKILL if it is still there after 10 s. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** One JSON call to a service of the four, as a client would make it: status, headers and the parsed body. */
export async function callService(
  four: FourServices,
  service: ServiceName,
  method: string,
  path: string,
  headers: Record<string, unknown> = {},
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: Record<string, any> }> {
  const response = await fetch(`${four.services[service].url}${path}`, {
    method,
    headers: { ...(headers as Record<string, string>), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
}
