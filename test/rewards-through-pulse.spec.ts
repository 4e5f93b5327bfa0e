import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from '../apps/pulse/test/pulse-harness';
import { auth, PROGRAM, PROGRAM_ALLOWING_CLIENTS, startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';
import { issueServerKey } from './support/server-key';

/**
 * The whole path a customer wires up: their app tracks through pulse's Segment API (here with
 * Segment's own Node SDK and plain HTTP), pulse stores the calls sealed, and rewards earns from
 * them, as seen through rewards' own API. Same database and master key, as deployed services share.
 *
 * The tenant's backend tracks with a server source's key (`tss_…`), which the program trusts by
 * default (rules earn from server sources unless they list `client`); its public write key, which
 * any web page carries, earns nothing unless a rule allows client sources.
 */
describe('earning from calls tracked through pulse', () => {
  let pulse: PulseHarness;
  let rewards: RewardsApp;
  let tenant: Tenant;
  let serverKey: string;

  beforeAll(async () => {
    pulse = await startPulse();
    rewards = await startRewardsApp(pulse.databaseUrl, pulse.masterKey);
    tenant = await pulse.createTenant();
    serverKey = await issueServerKey(pulse.register, pulse.url, tenant.slug);
    expect((await rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(async () => {
    await rewards?.close();
    await pulse?.close();
  });

  const balanceOf = async (userId: string) => {
    const response = await rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
    return response.status === 200 ? (response.body as { balance: number; tier: string }) : undefined;
  };
  const track = (body: object) =>
    fetch(`${pulse.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(serverKey), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('an order tracked with the Segment SDK earns its points and moves the tier', async () => {
    const userId = `shopper-${randomUUID()}`;
    const analytics = new Analytics({ writeKey: serverKey, host: pulse.url, flushAt: 1 });
    analytics.track({ userId, event: 'Order Completed', properties: { total: 250.99, currency: 'EUR' } });
    analytics.identify({ userId, traits: { plan: 'pro' } });
    await analytics.closeAndFlush();
    await eventually(async () => (await balanceOf(userId))?.balance === 250);
    expect(await balanceOf(userId)).toMatchObject({ balance: 250, tier: 'silver' });
  });

  test('an order earns, then a partial refund and a return tracked through pulse take back their share of it, each once', async () => {
    const userId = `refunder-${randomUUID()}`;
    const analytics = new Analytics({ writeKey: serverKey, host: pulse.url, flushAt: 1 });
    analytics.track({ userId, event: 'Order Completed', properties: { order_id: 'W-1001', total: 300, currency: 'EUR' } });
    await analytics.closeAndFlush();
    await eventually(async () => (await balanceOf(userId))?.balance === 300);
    expect(await balanceOf(userId)).toMatchObject({ balance: 300, tier: 'silver' });
    const refundId = randomUUID();
    // A third refunded, sent twice with the same messageId (a retry): taken back once.
    for (let attempt = 0; attempt < 2; attempt++)
      expect(
        (await track({ userId, event: 'Order Refunded', properties: { order_id: 'W-1001', total: 100 }, messageId: refundId })).status,
      ).toBe(200);
    await eventually(async () => (await balanceOf(userId))?.balance === 200);
    // A sixth returned: 150 points left, short of silver, so the upgrade the order bought goes too.
    expect((await track({ userId, event: 'Order Returned', properties: { order_id: 'W-1001', total: 50 } })).status).toBe(200);
    // A witness grant stored after the return: once it counts, everything before it was applied.
    expect((await track({ userId, event: 'Grant', properties: { points: 1 } })).status).toBe(200);
    await eventually(async () => ((await balanceOf(userId))?.balance ?? 0) % 2 === 1);
    expect(await balanceOf(userId)).toMatchObject({ balance: 151, tier: 'bronze' });
  });

  test('a retried call (same messageId) earns once; a call that matches no rule earns nothing', async () => {
    const userId = `retry-${randomUUID()}`;
    const messageId = randomUUID();
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await track({ userId, event: 'Grant', properties: { points: 30 }, messageId })).status).toBe(200);
    }
    expect((await track({ userId, event: 'Order Completed', properties: { total: 80, currency: 'USD' } })).status).toBe(200);
    expect((await track({ userId, event: 'Grant', properties: { points: 5 } })).status).toBe(200);
    // A last grant, stored after every call above: once it counts, all of them have been applied.
    expect((await track({ userId, event: 'Grant', properties: { points: 1 } })).status).toBe(200);
    await eventually(async () => (await balanceOf(userId))?.balance !== undefined && (await balanceOf(userId))!.balance >= 36);
    expect((await balanceOf(userId))?.balance).toBe(36);
  });

  test('history moved in through /v1/import earns nothing; the same calls sent live do', async () => {
    const userId = `migrated-${randomUUID()}`;
    const imported = await fetch(`${pulse.url}/v1/import`, {
      method: 'POST',
      headers: { authorization: basic(serverKey), 'content-type': 'application/json' },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId, event: 'Grant', properties: { points: 500 }, timestamp: '2019-05-01T10:00:00Z' },
          {
            type: 'track',
            userId,
            event: 'Order Completed',
            properties: { total: 90, currency: 'EUR' },
            timestamp: '2019-05-02T10:00:00Z',
          },
        ],
      }),
    });
    expect(imported.status).toBe(200);
    // Stored after the import: once it counts, the history has been applied (as nothing).
    expect((await track({ userId, event: 'Grant', properties: { points: 7 } })).status).toBe(200);
    await eventually(async () => (await balanceOf(userId))?.balance !== undefined);
    expect((await balanceOf(userId))?.balance).toBe(7);
  });

  test('a call sent with the public write key earns nothing under a program that trusts only server sources (the default)', async () => {
    const strict = await pulse.createTenant();
    expect((await rewards.http().put(`/t/${strict.slug}/program`).set(auth(strict)).send(PROGRAM)).status).toBe(200);
    const userId = `forger-${randomUUID()}`;
    const send = (properties: object) =>
      fetch(`${pulse.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: basic(strict.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ userId, event: 'Grant', properties }),
      });
    expect((await send({ points: 1_000_000 })).status).toBe(200);
    // Allowing client sources from now on: a witness call, stored after the first, earns.
    const allowing = await rewards.http().put(`/t/${strict.slug}/program`).set(auth(strict)).send(PROGRAM_ALLOWING_CLIENTS);
    expect(allowing.body.version).toBe(2);
    expect((await send({ points: 1 })).status).toBe(200);
    const balance = async () => (await rewards.http().get(`/t/${strict.slug}/members/${userId}`).set(auth(strict))).body.balance ?? 0;
    // Once the witness counts, the forged grant before it has been applied too.
    await eventually(async () => (await balance()) >= 1);
    expect(await balance()).toBe(1);
  });

  test('anonymous visitors earn nothing until they are identified by a userId', async () => {
    const anonymousId = `anon-${randomUUID()}`;
    const witness = `witness-${randomUUID()}`;
    expect((await track({ anonymousId, event: 'Grant', properties: { points: 40 } })).status).toBe(200);
    // Stored after the anonymous call, so once the witness has earned, the anonymous call was seen.
    expect((await track({ userId: witness, event: 'Grant', properties: { points: 1 } })).status).toBe(200);
    await eventually(async () => (await balanceOf(witness))?.balance === 1);
    expect(await balanceOf(anonymousId)).toBeUndefined();
  });
});
