import { randomUUID } from 'node:crypto';
import type { EventToAppend, JsonObject } from '#eventstore';
import { trackingStreamFor, type TrackingSource } from '#contracts';
import { programStreamFor } from '../src/rewards.streams';
import { auth, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

const CLIENT: TrackingSource = { kind: 'client', keyId: 'web' };
const SERVER: TrackingSource = { kind: 'server', keyId: 'backend' };

const orders = (sources?: string[]) => ({
  rules: [
    {
      id: 'order',
      event: 'Order Completed',
      conditions: [],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      ...(sources ? { sources } : {}),
    },
  ],
});

/**
 * A client source's write key ships in web pages: what it sends earns nothing unless the tenant
 * allows client sources for the rule. Appended to the log as pulse records calls, read back
 * through rewards' API.
 */
describe('trusted earning', () => {
  let h: RewardsHarness;

  beforeAll(async () => {
    h = await startRewards();
  });
  afterAll(() => h.close());

  async function tenantWith(program: object): Promise<Tenant> {
    const tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(program)).status).toBe(200);
    return tenant;
  }
  const balance = async (tenant: Tenant, userId: string) =>
    (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance;
  const order = (tenant: Tenant, userId: string, total: number, source: TrackingSource) =>
    h.track(tenant, userId, 'Order Completed', { total }, randomUUID(), source);

  test('under a default rule an Order Completed from a client source earns nothing; from a server source it earns', async () => {
    const tenant = await tenantWith(orders());
    const shown = await h.rewards.http().get(`/t/${tenant.slug}/program`).set(auth(tenant));
    expect(shown.body.rules[0].sources).toEqual(['server']);
    const userId = `m-${randomUUID()}`;
    await order(tenant, userId, 5000, CLIENT);
    expect(await balance(tenant, userId)).toBe(0);
    await order(tenant, userId, 42, SERVER);
    expect(await balance(tenant, userId)).toBe(42);
  });

  test('under a rule that allows client sources, an Order Completed from a client source earns', async () => {
    const tenant = await tenantWith(orders(['client', 'server']));
    const shown = await h.rewards.http().get(`/t/${tenant.slug}/program`).set(auth(tenant));
    expect(shown.body.rules[0].sources).toEqual(['server', 'client']);
    const userId = `m-${randomUUID()}`;
    await order(tenant, userId, 30, CLIENT);
    await order(tenant, userId, 12, SERVER);
    expect(await balance(tenant, userId)).toBe(42);
  });

  test('a program stored before sources were told apart earns from server sources only', async () => {
    const tenant = await h.createTenant();
    const store = h.rewards.runtime.infrastructure.eventStore;
    // Version 1 of ProgramPublished, as the previous release wrote it: no sources, no limits.
    const now = new Date().toISOString();
    const v1: EventToAppend = {
      id: randomUUID(),
      type: 'ProgramPublished',
      data: { ...orders(), tiers: null, expiry: null, version: 1, publishedAt: now },
      metadata: {
        tenantId: tenant.id,
        schemaVersion: 1,
        correlationId: 'previous-release',
        causationId: 'previous-release',
        occurredAt: now,
      },
    };
    await store.appendToStream(programStreamFor(tenant.id), [v1], { expectedRevision: 'no_stream' });
    expect((await h.rewards.http().get(`/t/${tenant.slug}/program`).set(auth(tenant))).body.rules[0].sources).toEqual(['server']);
    const userId = `m-${randomUUID()}`;
    await order(tenant, userId, 5000, CLIENT);
    await order(tenant, userId, 7, SERVER);
    expect(await balance(tenant, userId)).toBe(7);
  });

  test('a tracked call recorded before pulse named its source (MessageReceived v2) counts as a client source', async () => {
    const strict = await tenantWith(orders());
    const open = await tenantWith(orders(['server', 'client']));
    const userId = `m-${randomUUID()}`;
    for (const tenant of [strict, open]) {
      const sealed = await h.sealTrack(tenant, userId, 'Order Completed', { total: 25 });
      const { source: _source, ...data } = sealed.data as JsonObject;
      await h.appendTracked(tenant, [{ ...sealed, data, metadata: { ...sealed.metadata, schemaVersion: 2 } }]);
    }
    expect(await balance(strict, userId)).toBe(0);
    expect(await balance(open, userId)).toBe(25);
  });

  test('a source that is neither server nor client reads as client', async () => {
    const tenant = await tenantWith(orders());
    const userId = `m-${randomUUID()}`;
    const sealed = await h.sealTrack(tenant, userId, 'Order Completed', { total: 25 });
    const forged = { ...sealed, data: { ...(sealed.data as JsonObject), source: { kind: 'Server', keyId: 'x' } } };
    const { position } = await h.rewards.runtime.infrastructure.eventStore.appendToStream(trackingStreamFor(tenant.id, 0), [forged], {
      expectedRevision: 'any',
    });
    await h.rewards.earning.waitFor(position);
    expect(await balance(tenant, userId)).toBe(0);
  });
});
