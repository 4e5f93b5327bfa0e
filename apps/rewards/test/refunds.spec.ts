import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { walletStreamFor } from '../src/rewards.streams';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Refunds and returns, tracked or through the API, take back what an order earned: once, in proportion, never more. */
describe('refunds and returns', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let lenient: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    lenient = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    const negative = { ...PROGRAM, refunds: { allowNegativeBalance: true } };
    const published = await h.rewards.http().put(`/t/${lenient.slug}/program`).set(auth(lenient)).send(negative);
    expect(published.body.refunds).toEqual({ allowNegativeBalance: true });
  });
  afterAll(() => h.close());

  const http = () => h.rewards.http();
  const member = async (userId: string, as: Tenant = tenant) => (await http().get(`/t/${as.slug}/members/${userId}`).set(auth(as))).body;
  const order = (userId: string, orderId: string, total: number, as: Tenant = tenant) =>
    h.track(as, userId, 'Order Completed', { order_id: orderId, total, currency: 'EUR' });
  const refund = (userId: string, body: object, key: string = randomUUID(), as: Tenant = tenant) =>
    http().post(`/t/${as.slug}/members/${userId}/refunds`).set(auth(as)).set('idempotency-key', key).send(body);
  async function rewardCosting(cost: number, as: Tenant = tenant): Promise<string> {
    return (await http().post(`/t/${as.slug}/rewards`).set(auth(as)).send({ name: 'Mug', cost, stock: 1000 })).body.id;
  }

  test('a tracked Order Refunded takes back what the order earned, once however often it is delivered, and the upgrade it bought', async () => {
    const userId = `r-${randomUUID()}`;
    await order(userId, 'A-1', 250.5);
    expect(await member(userId)).toMatchObject({ balance: 250, tier: 'silver' });
    const messageId = randomUUID();
    await h.track(tenant, userId, 'Order Refunded', { order_id: 'A-1' }, messageId);
    await h.track(tenant, userId, 'Order Refunded', { order_id: 'A-1' }, messageId);
    expect(await member(userId)).toMatchObject({ balance: 0, tier: 'bronze', progress: { pointsInPeriod: 0 } });
    const history = await http().get(`/t/${tenant.slug}/members/${userId}/transactions`).set(auth(tenant));
    const clawed = history.body.items.filter((item: { type: string }) => item.type === 'PointsClawedBack');
    expect(clawed).toEqual([expect.objectContaining({ orderId: 'A-1', points: 250, cause: 'refund', shortfall: 0 })]);
  });

  test('partial returns take back in proportion to the amount returned, and never more than the order earned', async () => {
    const userId = `p-${randomUUID()}`;
    await order(userId, 'B-1', 100);
    await order(userId, 'B-2', 40);
    await h.track(tenant, userId, 'Order Returned', { order_id: 'B-1', total: 25 });
    expect((await member(userId)).balance).toBe(115);
    await h.track(tenant, userId, 'Order Returned', { order_id: 'B-1', total: 500 });
    expect((await member(userId)).balance).toBe(40);
    const again = await refund(userId, { orderId: 'B-1' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: 'https://tessera.dev/problems/order-fully-refunded', orderId: 'B-1' });
    expect((await member(userId)).balance).toBe(40);
  });

  test('a refund through the API answers what it took; the same key again gives the same answer, another body is refused', async () => {
    const userId = `a-${randomUUID()}`;
    await order(userId, 'C-1', 80);
    const key = randomUUID();
    const first = await refund(userId, { orderId: 'C-1', amount: 20 }, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ orderId: 'C-1', amount: 20, points: 20, taken: 20, expired: 0, owed: 0, shortfall: 0, balance: 60 });
    expect((await refund(userId, { orderId: 'C-1', amount: 20 }, key)).body).toEqual(first.body);
    const reused = await refund(userId, { orderId: 'C-1', amount: 30 }, key);
    expect(reused.status).toBe(422);
    expect((await member(userId)).balance).toBe(60);
    const unknown = await refund(userId, { orderId: 'nope' });
    expect(unknown).toMatchObject({ status: 404, body: { type: 'https://tessera.dev/problems/order-not-found', orderId: 'nope' } });
  });

  test('points already spent: the clawback stops at the balance and records the shortfall, unless the program allows a negative balance', async () => {
    const strict = `s-${randomUUID()}`;
    await order(strict, 'D-1', 100);
    const spent = await rewardCosting(70);
    expect(
      (
        await http()
          .post(`/t/${tenant.slug}/members/${strict}/redemptions`)
          .set(auth(tenant))
          .set('idempotency-key', 'k')
          .send({ rewardId: spent })
      ).status,
    ).toBe(201);
    expect((await refund(strict, { orderId: 'D-1' })).body).toMatchObject({ points: 100, taken: 30, owed: 0, shortfall: 70, balance: 0 });

    const owing = `n-${randomUUID()}`;
    await order(owing, 'D-1', 100, lenient);
    const reward = await rewardCosting(70, lenient);
    const redeem = () =>
      http()
        .post(`/t/${lenient.slug}/members/${owing}/redemptions`)
        .set(auth(lenient))
        .set('idempotency-key', randomUUID())
        .send({ rewardId: reward });
    expect((await redeem()).status).toBe(201);
    expect((await refund(owing, { orderId: 'D-1' }, randomUUID(), lenient)).body).toMatchObject({
      points: 100,
      taken: 30,
      owed: 70,
      balance: -70,
    });
    expect(await member(owing, lenient)).toMatchObject({ balance: -70, owed: 70, lots: [] });
    // The members list (a read model) says the same once it has applied the refund.
    const wallet = await h.rewards.runtime.infrastructure.eventStore.readStream(walletStreamFor(lenient.id, owing));
    await h.rewards.app.get(ProjectionRunner).waitFor(wallet[wallet.length - 1]!.position);
    const listed = await http().get(`/t/${lenient.slug}/members?limit=500`).set(auth(lenient));
    expect(listed.body.items).toContainEqual({ userId: owing, tier: 'bronze', balance: -70 });
    const refused = await redeem();
    expect(refused.body).toMatchObject({ type: 'https://tessera.dev/problems/insufficient-points' });
    // Later points pay what is owed first.
    await order(owing, 'D-2', 100, lenient);
    expect(await member(owing, lenient)).toMatchObject({ balance: 30, owed: 0, lots: [expect.objectContaining({ points: 30 })] });
  });

  test('a refund from a client source (a public write key) takes nothing back', async () => {
    const userId = `c-${randomUUID()}`;
    await order(userId, 'E-1', 60);
    await h.track(tenant, userId, 'Order Refunded', { order_id: 'E-1' }, randomUUID(), { kind: 'client', keyId: 'write' });
    expect((await member(userId)).balance).toBe(60);
  });

  test.each([
    ['without the program allowing a negative balance', false],
    ['with the program allowing it', true],
  ])('a refund racing redemptions never overdraws beyond the rule (%s)', async (_name, negative) => {
    const as = negative ? lenient : tenant;
    const userId = `race-${randomUUID()}`;
    await order(userId, 'F-1', 100, as);
    const rewardId = await rewardCosting(10, as);
    const [redemptions, refunded] = await Promise.all([
      Promise.all(
        Array.from({ length: 12 }, () =>
          http().post(`/t/${as.slug}/members/${userId}/redemptions`).set(auth(as)).set('idempotency-key', randomUUID()).send({ rewardId }),
        ),
      ),
      refund(userId, { orderId: 'F-1' }, randomUUID(), as),
    ]);
    expect(redemptions.filter((r) => r.status >= 500)).toHaveLength(0);
    expect(refunded.status).toBe(201);
    const confirmed = redemptions.filter((r) => r.status === 201).length;
    const { balance } = await member(userId, as);
    const { points, taken, expired, owed, shortfall } = refunded.body;
    expect(points).toBe(100);
    expect(expired).toBe(0);
    expect(taken + owed + shortfall).toBe(100);
    // Every point is accounted for: spent on rewards, taken back, or still held (less what is owed).
    expect(10 * confirmed + taken + balance + owed).toBe(100);
    if (negative) {
      expect(shortfall).toBe(0);
      // (Added rather than negated: when the refund came first, nothing was redeemed and -0 is not 0.)
      expect(balance + 10 * confirmed).toBe(0);
    } else {
      expect(owed).toBe(0);
      expect(balance).toBeGreaterThanOrEqual(0);
      expect(shortfall).toBe(10 * confirmed);
    }
  });

  test('bad refund input is a problem naming the field, and changes nothing', async () => {
    const userId = `b-${randomUUID()}`;
    await order(userId, 'G-1', 10);
    const before = await h.storedEvents();
    const cases: [object, string[]][] = [
      [{}, ['/orderId']],
      [{ orderId: '' }, ['/orderId']],
      [{ orderId: 'a\u0000b' }, ['/orderId']],
      [{ orderId: 'G-1', amount: -1 }, ['/amount']],
      [{ orderId: 'G-1', amount: 1e300 }, ['/amount']],
      [{ orderId: 'G-1', cause: 'theft' }, ['/cause']],
      [{ orderId: 'G-1', extra: 1 }, ['/extra']],
    ];
    for (const [body, pointers] of cases) {
      const response = await refund(userId, body);
      expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), 400]);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect([...new Set(response.body.errors.map((e: { pointer: string }) => e.pointer))]).toEqual(pointers);
    }
    const noKey = await http().post(`/t/${tenant.slug}/members/${userId}/refunds`).set(auth(tenant)).send({ orderId: 'G-1' });
    expect(noKey.status).toBe(400);
    expect((await refund('nobody-here', { orderId: 'G-1' })).status).toBe(404);
    expect(await h.storedEvents()).toBe(before);
    expect((await member(userId)).balance).toBe(10);
  });
});
