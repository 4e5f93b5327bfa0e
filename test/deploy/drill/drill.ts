import { eventually as poll } from '#platform/testing';
import { startRegister, type RegisterHarness } from '../../support/register-harness';

/** One request of a drill's steady load. */
export interface DrillRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Sent as JSON unless `form` is set. */
  readonly body?: unknown;
  /** Sent as application/x-www-form-urlencoded (OAuth endpoints). */
  readonly form?: Record<string, string>;
  /** The status that means success for this request. */
  readonly expect: number;
  /** Records what the service acknowledged, for the end-of-drill check. */
  acknowledged?(body: unknown): void;
}

export interface Workload {
  /** The i-th request of the steady load. */
  request(i: number): DrillRequest;
  /** Checks, once the roll is over, that every acknowledged write is stored exactly once (or whatever the service promises). */
  verify(databaseUrl: string, balancerUrl: string): Promise<void>;
}

/** A service that joins the rolling-update drill. */
export interface DrillTarget {
  readonly service: string;
  readonly entry: string;
  env(databaseUrl: string, balancerUrl: string): Record<string, string>;
  /** Sets up what the load needs (tenant, keys, a known user or client), through the balancer. */
  prepare(balancerUrl: string, databaseUrl: string): Promise<Workload>;
}

export const DRAIN_MS = 1500;

/** Polls every 100 ms for up to 15 s unless told otherwise: replicas start and drain in seconds. */
export function eventually(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  return poll(condition, { timeoutMs, intervalMs: 100 });
}

export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** A service's environment in the drill: production settings, the pods' shared master key, the drain. */
export function replicaEnv(databaseUrl: string, masterKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Tenants come from register's events: one created the way an operator would, on the drill's database. */
export async function tenantThroughRegister(
  databaseUrl: string,
  masterKey: string,
): Promise<{ id: string; slug: string; writeKey: string; apiKey: string }> {
  return withRegister(databaseUrl, masterKey, (register) => register.createTenant());
}

/** Register in-process on the drill's database, for targets that need more of it than a tenant (sign-ups). */
export async function withRegister<T>(databaseUrl: string, masterKey: string, work: (register: RegisterHarness) => Promise<T>): Promise<T> {
  const register = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey });
  try {
    return await work(register);
  } finally {
    await register.close();
  }
}
