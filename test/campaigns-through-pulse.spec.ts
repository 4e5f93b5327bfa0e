import { randomUUID } from 'node:crypto';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from '../apps/pulse/test/pulse-harness';
import { auth, PROGRAM, startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';
import { issueServerKey } from './support/server-key';

/**
 * A campaign's budget under a burst of qualifying events, sent as a shop's backend sends them:
 * through pulse's Segment API with a server source's key, all at once. Pulse stores them in
 * whatever order and batches its appends land in; rewards earns from them as they come. However
 * they interleave, the campaign gives out its budget and not a point more.
 */
describe('a campaign budget under parallel qualifying events tracked through pulse', () => {
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

  const track = (body: object) =>
    fetch(`${pulse.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(serverKey), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const memberOf = async (userId: string) => {
    const response = await rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
    return response.status === 200 ? (response.body as { balance: number; lots: { lotId: string; points: number }[] }) : undefined;
  };

  test('50 parallel orders never take a 1,000-point budget past 1,000, and spend it whole', async () => {
    const id = `launch-${randomUUID().slice(0, 8)}`;
    const created = await rewards
      .http()
      .post(`/t/${tenant.slug}/campaigns`)
      .set(auth(tenant))
      .send({ id, name: 'Launch week', event: 'Order Completed', award: { bonus: 30, multiplier: 1.5 }, limits: { budget: 1000 } });
    expect(created.status).toBe(201);
    // 40 members, 10 of them ordering twice: the same wallet and other wallets race for the last points.
    const members = Array.from({ length: 40 }, (_, n) => `racer-${n}-${randomUUID()}`);
    const orders = [...members, ...members.slice(0, 10)].map((userId, n) => ({
      userId,
      event: 'Order Completed',
      messageId: `order-${id}-${n}`,
      properties: { order_id: `W-${n}`, total: 20 + n, currency: 'EUR' },
    }));
    const sent = await Promise.all(orders.map((order) => track(order)));
    expect(sent.map((response) => response.status)).toEqual(orders.map(() => 200));
    // Each order earns (its total, in EUR) on a lot of its own: once each wallet holds all its lots, every order was applied.
    const lotsOf = async (userId: string) => ((await memberOf(userId))?.lots ?? []).filter((lot) => lot.lotId.endsWith('/order')).length;
    const ordersOf = (userId: string) => orders.filter((order) => order.userId === userId).length;
    await eventually(
      async () => (await Promise.all(members.map(async (userId) => (await lotsOf(userId)) === ordersOf(userId)))).every(Boolean),
      30_000,
    );

    // What the campaign added: the shares recorded on the members' PointsEarned transactions.
    const given = await Promise.all(
      members.map(async (userId) => {
        const page = await rewards.http().get(`/t/${tenant.slug}/members/${userId}/transactions?limit=100`).set(auth(tenant));
        const items = page.body.items as { campaigns?: { campaignId: string; points: number }[] }[];
        return items
          .flatMap((item) => item.campaigns ?? [])
          .reduce((sum, share) => (share.campaignId === id ? sum + share.points : sum), 0);
      }),
    );
    expect(given.reduce((a, b) => a + b, 0)).toBe(1000);
    // Balances agree: every order's total and the campaign's 1,000, nothing else.
    const balances = await Promise.all(members.map(async (userId) => (await memberOf(userId))?.balance ?? 0));
    expect(balances.reduce((a, b) => a + b, 0)).toBe(orders.reduce((sum, order) => sum + order.properties.total, 0) + 1000);
    const campaign = await rewards.http().get(`/t/${tenant.slug}/campaigns/${id}`).set(auth(tenant));
    expect(campaign.body).toMatchObject({ status: 'exhausted', spent: 1000, budgetLeft: 0 });
    // More orders after it is spent earn their program points and nothing from the campaign.
    const late = `late-${randomUUID()}`;
    expect((await track({ userId: late, event: 'Order Completed', properties: { total: 10, currency: 'EUR' } })).status).toBe(200);
    await eventually(async () => (await lotsOf(late)) === 1);
    expect((await memberOf(late))?.balance).toBe(10);
  });
});
