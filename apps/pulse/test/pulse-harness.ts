import { eventually } from '#platform/testing';
import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type { ProjectionRunner } from '#cqrs';
import { comparePositions, matchesFilter, type Position } from '#eventstore';
import { startEsdbEmulator, type EsdbEmulator } from '#eventstore/testing';
import { createServiceApp } from '#platform';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { loadPulseConfig } from '../src/pulse.config';
import { PROJECTIONS, PulseModule } from '../src/pulse.module';
import { openPulseRuntime, pulseServiceOptions, type PulseRuntime } from '../src/pulse.runtime';
import { trackingStreamFor } from '#contracts';

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly apiKey: string;
  readonly writeKey: string;
}

export interface PulseHarness {
  readonly app: NestFastifyApplication;
  readonly runtime: PulseRuntime;
  readonly register: RegisterHarness;
  readonly databaseUrl: string;
  readonly masterKey: string;
  /** Pulse listening on an ephemeral port, for real clients. */
  readonly url: string;
  http(): ReturnType<typeof request>;
  /** A tenant created through register, once pulse accepts its write key. */
  createTenant(): Promise<Tenant>;
  /** Resolves once pulse's profiles include everything stored so far. */
  profilesCaughtUp(): Promise<void>;
  /** Every MessageReceived stored for the tenant, as (messageId → count). */
  storedMessageIds(tenantId: string): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface PulseOptions {
  /** Extra environment for pulse (DATABASE_URL and TESSERA_MASTER_KEY are shared with register). */
  readonly env?: Record<string, string>;
  /** Run register and pulse on the EventStoreDB protocol emulator instead of the PostgreSQL store. */
  readonly eventStoreDb?: boolean;
}

/** Register and pulse on one fresh database with one master key, built the way main.ts builds them. */
export async function startPulse(options: PulseOptions = {}): Promise<PulseHarness> {
  const env = options.env ?? {};
  const emulator: EsdbEmulator | undefined = options.eventStoreDb ? await startEsdbEmulator() : undefined;
  const databaseUrl = env.DATABASE_URL ?? (await createTestDatabase('pulse'));
  const masterKey = env.TESSERA_MASTER_KEY ?? randomBytes(32).toString('base64');
  const stores: Record<string, string> = emulator ? { EVENTSTORE_URL: emulator.url } : {};
  const register = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey, ...stores });
  const { app, runtime, url } = await startPulseApp({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey, ...stores, ...env });
  const http = () => request(app.getHttpServer());
  const profilesRunner = () => app.get<ProjectionRunner[]>(PROJECTIONS).find((runner) => runner.name === 'pulse.profiles')!;
  return {
    app,
    runtime,
    register,
    databaseUrl,
    masterKey,
    url,
    http,
    async createTenant() {
      const tenant = (await register.createTenant()) as Tenant;
      await eventually(async () => (await http().get(`/v1/projects/${tenant.writeKey}/settings`)).status === 200);
      return tenant;
    },
    async profilesCaughtUp() {
      const last = await lastProfileInput(runtime);
      if (last) await profilesRunner().waitFor(last);
    },
    async storedMessageIds(tenantId) {
      const counts = new Map<string, number>();
      for (let partition = 0; partition < runtime.ingest.writers; partition++) {
        for (const event of await runtime.store.readStream(trackingStreamFor(tenantId, partition))) {
          if (event.type !== 'MessageReceived') continue;
          const messageId = String(event.data.messageId);
          counts.set(messageId, (counts.get(messageId) ?? 0) + 1);
        }
      }
      return counts;
    },
    async close() {
      await app.close();
      await register.close();
      await emulator?.stop();
    },
  };
}

/** One more pulse process (a role of it, say) on a database and master key another one uses. */
export async function startPulseApp(
  env: Record<string, string>,
): Promise<{ app: NestFastifyApplication; runtime: PulseRuntime; url: string }> {
  const config = loadPulseConfig({
    NODE_ENV: 'test',
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    // Property tests send hundreds of refused calls in a row: the refusal budget is out of their way
    // unless a test sets it (tenant-fairness.spec.ts).
    INGEST_TENANT_REFUSALS_PER_SECOND: '0',
    ...env,
  });
  const runtime = await openPulseRuntime(config);
  const app = await createServiceApp(PulseModule.forRoot(runtime), { ...pulseServiceOptions(config), processMetrics: false });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, runtime, url: `http://127.0.0.1:${address.port}` };
}

// Streams and types the profiles projection consumes; later events of other streams never reach it.
const PROFILE_INPUT = {
  streamNamePrefixes: ['pulse.tracking-', 'register.account-', 'login.signin-', 'privacy.erasure-'],
  eventTypePrefixes: ['MessageReceived', 'UserRegistered', 'UserImported', 'UserErased', 'LoginSucceeded', 'ErasureRequested'],
};

/** The position of the last stored event the profiles projection consumes. */
async function lastProfileInput(runtime: PulseRuntime): Promise<Position | undefined> {
  const { store } = runtime;
  // The events are in pulse's own database: one query finds the last.
  if (store.transactional?.sharesDatabaseWith(runtime.infrastructure.pool)) {
    const { rows } = await runtime.infrastructure.pool.query<{ commit: string; prepare: string }>(
      `SELECT transaction_id::text AS commit, seq::text AS prepare FROM es_events
       WHERE (stream_name LIKE 'pulse.tracking-%' OR stream_name LIKE 'register.account-%' OR stream_name LIKE 'login.signin-%'
              OR stream_name LIKE 'privacy.erasure-%')
         AND type IN ('MessageReceived', 'UserRegistered', 'UserImported', 'UserErased', 'LoginSucceeded', 'ErasureRequested')
       ORDER BY transaction_id DESC, seq DESC LIMIT 1`,
    );
    return rows[0] ? { commit: BigInt(rows[0].commit), prepare: BigInt(rows[0].prepare) } : undefined;
  }
  // Elsewhere: read $all up to its head (test stores are small).
  const head = await store.headPosition();
  if (!head) return undefined;
  let last: Position | undefined;
  const subscription = store.subscribeToAll({ from: 'start' });
  try {
    for await (const event of subscription) {
      if (matchesFilter(PROFILE_INPUT, event.streamName, event.type)) last = event.position;
      if (comparePositions(event.position, head) >= 0) break;
    }
  } finally {
    await subscription.close();
  }
  return last;
}

/**
 * One pulse (with register) and one tenant for a whole spec file, with the calls every spec makes.
 * Call at the top of a describe block; the accessors are valid inside tests.
 */
export function usePulse(options: PulseOptions = {}) {
  let started: { pulse: PulseHarness; tenant: Tenant } | undefined;
  beforeAll(async () => {
    const pulse = await startPulse(options);
    started = { pulse, tenant: await pulse.createTenant() };
  });
  afterAll(() => started?.pulse.close());
  const current = () => {
    if (!started) throw new Error('usePulse: pulse is not started (use the suite inside tests)');
    return started;
  };
  return {
    get pulse(): PulseHarness {
      return current().pulse;
    },
    get tenant(): Tenant {
      return current().tenant;
    },
    /** POST /v1/batch with the tenant's write key; expects Segment's 200. */
    send(batch: object[]) {
      const { pulse, tenant } = current();
      return pulse.http().post('/v1/batch').set('authorization', basic(tenant.writeKey)).send({ batch }).expect(200);
    },
    /** GET the unified profile by one of its identities, with the tenant's api key (or `key`). */
    profile(kind: string, value: string, key?: string) {
      const { pulse, tenant } = current();
      return pulse
        .http()
        .get(`/t/${tenant.slug}/profiles/${kind}/${encodeURIComponent(value)}`)
        .set('authorization', `Bearer ${key ?? tenant.apiKey}`);
    },
    /** GET a page of the profile's events, newest first. */
    profileEvents(kind: string, value: string, query = '') {
      const { pulse, tenant } = current();
      return pulse
        .http()
        .get(`/t/${tenant.slug}/profiles/${kind}/${encodeURIComponent(value)}/events${query}`)
        .set('authorization', `Bearer ${tenant.apiKey}`);
    },
  };
}

/** Reads Server-Sent Events until `count` messages arrived. */
export async function readEvents(response: Response, count: number): Promise<{ type: string; name: string; userId: string }[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: { type: string; name: string; userId: string }[] = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').find((line) => line.startsWith('data: '));
      if (data) events.push(JSON.parse(data.slice(6)));
    }
  }
  await reader.cancel();
  return events;
}

export { eventually };

/** POSTs a tracking call with the tenant's write key, sent at once (supertest sends only once something waits on it). */
export function postTracking(
  pulse: PulseHarness,
  tenant: Tenant,
  body: object,
  path = '/v1/batch',
): Promise<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }> {
  return pulse
    .http()
    .post(path)
    .set('authorization', basic(tenant.writeKey))
    .send(body)
    .then((response) => response);
}

export function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}
