import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { BOUNDS } from '#platform';
import { walletStreamFor } from '../src/rewards.streams';
import { auth, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Double points on every order: 1,073,741,824 of currency is 2^31 points, one past an integer column. */
const DOUBLE_POINTS = {
  rules: [
    {
      id: 'order',
      event: 'Order Completed',
      conditions: [],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 2, rounding: 'down' },
    },
  ],
};

/**
 * The outside probe's orders: a total of 1e300 and one of 1073741824. Each earns its capped points,
 * and nothing downstream of the wallet stops: the read models keep up for every tenant, catalog
 * writes (which wait for the read models) answer, and readiness stays up.
 */
describe('absurd order totals', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    [tenant, other] = [await h.createTenant(), await h.createTenant()];
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(DOUBLE_POINTS)).status).toBe(200);
    const limited = { ...DOUBLE_POINTS, limits: { maxPointsPerEvent: 5000 } };
    expect((await h.rewards.http().put(`/t/${other.slug}/program`).set(auth(other)).send(limited)).status).toBe(200);
  });
  afterAll(() => h.close());

  /** Waits until the read models have applied everything in the member's wallet. */
  async function projected(of: Tenant, userId: string) {
    const events = await h.rewards.runtime.infrastructure.eventStore.readStream(walletStreamFor(of.id, userId));
    await h.rewards.app.get(ProjectionRunner).waitFor(events[events.length - 1]!.position);
  }
  const member = async (of: Tenant, userId: string) =>
    (await h.rewards.http().get(`/t/${of.slug}/members/${userId}`).set(auth(of))).body as { balance: number; lots: { points: number }[] };
  const lotRows = async (of: Tenant, userId: string) =>
    (
      await h.rewards.runtime.infrastructure.pool.query<{ remaining: string }>(
        'SELECT remaining FROM rewards_lots WHERE tenant_id = $1 AND user_id = $2 ORDER BY lot_id',
        [of.id, userId],
      )
    ).rows.map((row) => Number(row.remaining));

  test('a tracked order of 1e300 and one of 1073741824 earn one award is worth each, and the read models keep up', async () => {
    const userId = `whale-${randomUUID()}`;
    await h.track(tenant, userId, 'Order Completed', { total: 1e300 });
    await h.track(tenant, userId, 'Order Completed', { total: 1_073_741_824 });
    const shown = await member(tenant, userId);
    expect(shown.balance).toBe(2 * BOUNDS.points);
    expect(shown.lots.map((lot) => lot.points)).toEqual([BOUNDS.points, BOUNDS.points]);
    await projected(tenant, userId);
    expect(await lotRows(tenant, userId)).toEqual([BOUNDS.points, BOUNDS.points]);
  });

  test("a program's own limit per event caps it lower", async () => {
    const userId = `whale-${randomUUID()}`;
    await h.track(other, userId, 'Order Completed', { total: 1e300 });
    expect((await member(other, userId)).balance).toBe(5000);
  });

  test("after them, both tenants' catalog writes answer and show in the read models, and the service stays ready", async () => {
    for (const of of [tenant, other]) {
      const created = await h.rewards
        .http()
        .post(`/t/${of.slug}/rewards`)
        .set(auth(of))
        .send({ name: 'Yacht', cost: BOUNDS.points, stock: 1 });
      expect(created.status).toBe(201);
      const listed = await h.rewards.http().get(`/t/${of.slug}/rewards?limit=500`).set(auth(of));
      expect(listed.body.items).toContainEqual(expect.objectContaining({ id: created.body.id, cost: BOUNDS.points, remaining: 1 }));
    }
    expect((await h.rewards.http().get('/health/ready')).status).toBe(200);
  });

  test('a member redeems and adjusts at those sizes, and the read models follow', async () => {
    const userId = `whale-${randomUUID()}`;
    await h.track(tenant, userId, 'Order Completed', { total: 1e300 });
    const rewardId = (
      await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Island', cost: BOUNDS.points, stock: 1 })
    ).body.id;
    const redeemed = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId });
    expect(redeemed.status).toBe(201);
    const adjusted = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
      .set(auth(tenant))
      .send({ points: BOUNDS.points, reason: 'goodwill', actor: 'ops' });
    expect(adjusted.status).toBe(201);
    expect(adjusted.body.balance).toBe(BOUNDS.points);
    await projected(tenant, userId);
    // The earned lot spent, the adjustment's lot whole.
    expect((await lotRows(tenant, userId)).sort((a, b) => a - b)).toEqual([0, BOUNDS.points]);
    expect((await h.rewards.http().get('/health/ready')).status).toBe(200);
  });
});
