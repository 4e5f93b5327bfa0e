import { randomBytes, randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type { EventToAppend, JsonObject, Position } from '#eventstore';
import { createServiceApp } from '#platform';
import { createTestDatabase } from '../../../test/support/database';
import { accountStreamFor, trackingStreamFor, trackReceived, type TrackingSource } from '#contracts';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import type { ProjectionRunner } from '#cqrs';
import { Earning, type EarningProjection } from '../src/earning/earning.projection';
import { ExpiryJob } from '../src/expiry/expiry.job';
import { loadRewardsConfig } from '../src/rewards.config';
import { Clock } from '../src/rewards.ports';
import { RewardsModule, type RewardsRuntime } from '../src/rewards.module';
import { openRewardsRuntime, rewardsServiceOptions } from '../src/rewards.runtime';

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly apiKey: string;
}

export interface RewardsApp {
  readonly app: NestFastifyApplication;
  readonly runtime: RewardsRuntime;
  /** The earning subscription's runner: stop, start, wait for a position. */
  readonly earning: ProjectionRunner;
  readonly earningProjection: EarningProjection;
  readonly expiry: ExpiryJob;
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

export interface RewardsHarness {
  readonly register: RegisterHarness;
  readonly rewards: RewardsApp;
  readonly databaseUrl: string;
  readonly masterKey: string;
  /** Another replica of rewards on the same database and event store. */
  startReplica(): Promise<RewardsApp>;
  createTenant(): Promise<Tenant>;
  /**
   * Appends a track call as pulse records it (sealed) and waits until rewards has applied it; from
   * a server source unless `source` says otherwise.
   */
  track(tenant: Tenant, userId: string, event: string, properties?: object, messageId?: string, source?: TrackingSource): Promise<Position>;
  /** A track call sealed now, as pulse seals what it accepts (for appending later with `appendTracked`). */
  sealTrack(tenant: Tenant, userId: string, event: string, properties?: object): Promise<EventToAppend>;
  /** Appends sealed track calls and waits until rewards has applied them. */
  appendTracked(tenant: Tenant, records: readonly EventToAppend[]): Promise<Position>;
  /** Signs a person up in register and waits until rewards has applied the sign-up. */
  signUp(tenant: Tenant): Promise<string>;
  /** Appends track calls as pulse records them, all in one append (so they are earned in one batch). */
  trackMany(tenant: Tenant, events: readonly { userId: string; event: string; properties?: object }[]): Promise<Position>;
  /**
   * Tracks 10 then 5 points for each member while every commit of the earning checkpoint fails, as
   * a crash between a batch's wallet writes and its checkpoint would; resolves once earning applied
   * the batch a second time, with the last position and the function that lifts the failure.
   */
  earnThroughFailingCheckpoints(tenant: Tenant, members: readonly string[]): Promise<{ last: Position; lift: () => Promise<void> }>;
  storedEvents(prefix?: string): Promise<number>;
  close(): Promise<void>;
}

/** `env` sets or overrides rewards' variables (say, a tenant's share of the replica). */
export async function startRewardsApp(
  databaseUrl: string,
  masterKey: string,
  eventstoreUrl?: string,
  env: Readonly<Record<string, string>> = {},
  clock?: Clock,
): Promise<RewardsApp> {
  const config = loadRewardsConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    ...(eventstoreUrl ? { EVENTSTORE_URL: eventstoreUrl } : {}),
    TESSERA_MASTER_KEY: masterKey,
    REWARDS_EXPIRY_INTERVAL_MS: '0',
    REWARDS_RECOVERY_AFTER_MS: '0',
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const runtime = await openRewardsRuntime(config);
  const app = await createServiceApp(RewardsModule.forRoot({ ...runtime, clock }), {
    ...rewardsServiceOptions(config),
    processMetrics: false,
  });
  // Read when asked: a process in the api role runs no earning, one in the projector role no expiry.
  return {
    app,
    runtime,
    get earning() {
      return app.get(Earning).runner;
    },
    get earningProjection() {
      return app.get(Earning).projection;
    },
    get expiry() {
      return app.get(ExpiryJob);
    },
    http: () => request(app.getHttpServer()),
    close: () => app.close(),
  };
}

/**
 * Register and rewards on one fresh database, sharing the master key as deployed services do, and
 * on EventStoreDB when `eventstoreUrl` is given.
 */
export async function startRewards(
  options: { eventstoreUrl?: string; env?: Readonly<Record<string, string>>; clock?: Clock } = {},
): Promise<RewardsHarness> {
  const databaseUrl = await createTestDatabase('rewards');
  const masterKey = randomBytes(32).toString('base64');
  const { eventstoreUrl, env } = options;
  const register = await startRegister({
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    ...(eventstoreUrl ? { EVENTSTORE_URL: eventstoreUrl } : {}),
  });
  const rewards = await startRewardsApp(databaseUrl, masterKey, eventstoreUrl, env, options.clock);
  const replicas: RewardsApp[] = [];
  const store = rewards.runtime.infrastructure.eventStore;
  const asPulseRecords = (
    tenant: Tenant,
    call: { userId: string; event: string; properties: object; messageId: string; source?: TrackingSource },
  ) =>
    rewards.runtime.infrastructure.codec.encode(trackReceived({ ...call, properties: call.properties as JsonObject, at: new Date() }), {
      tenantId: tenant.id,
      correlationId: randomUUID(),
      now: new Date(),
    });
  const appendTracked = async (tenant: Tenant, records: readonly EventToAppend[]) => {
    const result = await store.appendToStream(trackingStreamFor(tenant.id, 0), records, { expectedRevision: 'any' });
    await rewards.earning.waitFor(result.position);
    return result.position;
  };
  const trackMany = async (tenant: Tenant, events: readonly { userId: string; event: string; properties?: object }[]) => {
    const toAppend = await Promise.all(
      events.map(({ userId, event, properties = {} }) => asPulseRecords(tenant, { userId, event, properties, messageId: randomUUID() })),
    );
    return (await store.appendToStream(trackingStreamFor(tenant.id, 1), toAppend, { expectedRevision: 'any' })).position;
  };
  return {
    register,
    rewards,
    databaseUrl,
    masterKey,
    async startReplica() {
      const replica = await startRewardsApp(databaseUrl, masterKey, eventstoreUrl, env);
      replicas.push(replica);
      return replica;
    },
    async createTenant() {
      const { id, slug, apiKey } = await register.createTenant();
      return { id, slug, apiKey };
    },
    async track(tenant, userId, event, properties = {}, messageId = randomUUID(), source) {
      return appendTracked(tenant, [await asPulseRecords(tenant, { userId, event, properties, messageId, source })]);
    },
    sealTrack(tenant, userId, event, properties = {}) {
      return asPulseRecords(tenant, { userId, event, properties, messageId: randomUUID() });
    },
    appendTracked,
    async signUp(tenant) {
      const { id } = await register.signUp(tenant.slug, `p${randomBytes(5).toString('hex')}@example.com`);
      const [registered] = await store.readStream(accountStreamFor(tenant.id, id), { maxCount: 1 });
      await rewards.earning.waitFor(registered!.position);
      return id;
    },
    trackMany,
    async earnThroughFailingCheckpoints(tenant, members) {
      await rewards.earning.stop();
      const pool = rewards.runtime.infrastructure.pool;
      await pool.query(`CREATE OR REPLACE FUNCTION rewards_test_crash() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'simulated crash at commit'; END $$`);
      // Deferred to COMMIT: the batch's wallet writes and the checkpoint move are all done, and lost together.
      await pool.query(`CREATE CONSTRAINT TRIGGER rewards_test_crash AFTER UPDATE OR INSERT ON projection_checkpoints
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.projection = 'rewards.earning') EXECUTE FUNCTION rewards_test_crash()`);
      const lift = async () => void (await pool.query('DROP TRIGGER rewards_test_crash ON projection_checkpoints'));
      let applications = 0;
      const appliedTwice = new Promise<void>((resolve) =>
        rewards.earningProjection.effectListeners.push(() => ++applications === 2 && resolve()),
      );
      const last = await trackMany(
        tenant,
        members.flatMap((userId) => [
          { userId, event: 'Grant', properties: { points: 10 } },
          { userId, event: 'Grant', properties: { points: 5 } },
        ]),
      );
      rewards.earning.start();
      // Applied a second time: the first attempt's commit failed after its wallet appends.
      await appliedTwice;
      return { last, lift };
    },
    async storedEvents(prefix = 'rewards.') {
      const rows = await rewards.runtime.infrastructure.pool.query('SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE $1', [
        `${prefix}%`,
      ]);
      return rows.rows[0].n;
    },
    async close() {
      for (const replica of replicas) await replica.close();
      await rewards.close();
      await register.close();
    },
  };
}

export const auth = (tenant: Tenant) => ({ authorization: `Bearer ${tenant.apiKey}` });

export const PROGRAM = {
  rules: [
    { id: 'signup', event: 'UserRegistered', conditions: [], award: { kind: 'fixed', points: 50 } },
    {
      id: 'order',
      event: 'Order Completed',
      conditions: [{ property: 'currency', op: 'eq', value: 'EUR' }],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      caps: { perDay: 1000 },
    },
    { id: 'grant', event: 'Grant', conditions: [], award: { kind: 'perAmount', property: 'points', pointsPerUnit: 1, rounding: 'down' } },
  ],
  tiers: {
    periodMonths: 12,
    levels: [
      { name: 'bronze', threshold: 0 },
      { name: 'silver', threshold: 200 },
      { name: 'gold', threshold: 1000 },
    ],
  },
  expiry: { monthsAfterEarning: 6 },
};

/**
 * PROGRAM with every rule earning from client sources too (public write keys): what a tenant
 * publishes when it decides these events are worth nothing to a forger.
 */
export const PROGRAM_ALLOWING_CLIENTS = {
  ...PROGRAM,
  rules: PROGRAM.rules.map((rule) => ({ ...rule, sources: ['server', 'client'] })),
};

/** A clock a test moves by hand (the API's and the jobs' "now"): a tier period passes in a line, not a year. */
export class TestClock extends Clock {
  constructor(private current: Date = new Date()) {
    super();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(at: Date): void {
    this.current = new Date(at);
  }
}
