import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { walletStreamFor } from '../src/rewards.streams';
import { addMonths } from '../src/shared/calendar';
import { auth, PROGRAM, startRewards, type RewardsApp, type RewardsHarness, type Tenant } from './rewards-harness';

/** Points expire N months after earning and tiers are reviewed at period end, once, whoever runs the job. */
describe('expiry job', () => {
  let h: RewardsHarness;
  let replica: RewardsApp;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    replica = await h.startReplica();
    tenant = await h.createTenant();
    await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM);
  });
  afterAll(() => h.close());

  async function memberWith(points: number): Promise<string> {
    const userId = `m-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points });
    return userId;
  }
  /** The job finds wallets through the read models: let them catch up with a wallet's last event. */
  async function projected(userId: string) {
    const events = await h.rewards.runtime.infrastructure.eventStore.readStream(walletStreamFor(tenant.id, userId));
    await h.rewards.app.get(ProjectionRunner).waitFor(events[events.length - 1]!.position);
  }
  const member = async (userId: string) => (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body;
  const expiredEvents = async (userId: string) =>
    (await h.rewards.runtime.infrastructure.eventStore.readStream(walletStreamFor(tenant.id, userId))).filter(
      (e) => e.type === 'PointsExpired',
    );

  test('two replicas running the job at once expire each lot once; a second run does nothing', async () => {
    const spender = await memberWith(100);
    const saver = await memberWith(40);
    const rewardId = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Pen', cost: 30, stock: 5 }))
      .body.id;
    expect(
      (
        await h.rewards
          .http()
          .post(`/t/${tenant.slug}/members/${spender}/redemptions`)
          .set(auth(tenant))
          .set('idempotency-key', 'k')
          .send({ rewardId })
      ).status,
    ).toBe(201);
    await projected(spender);
    await projected(saver);

    const later = addMonths(new Date(), 7);
    const runs = await Promise.all([h.rewards.expiry.runOnce(later), replica.expiry.runOnce(later), h.rewards.expiry.runOnce(later)]);
    expect(runs.reduce((sum, run) => sum + run.pointsExpired, 0)).toBe(70 + 40);
    expect((await expiredEvents(spender)).map((e) => e.data.points)).toEqual([70]);
    expect((await expiredEvents(saver)).map((e) => e.data.points)).toEqual([40]);

    await projected(spender);
    await projected(saver);
    const again = await Promise.all([h.rewards.expiry.runOnce(later), replica.expiry.runOnce(later)]);
    expect(again.reduce((sum, run) => sum + run.pointsExpired, 0)).toBe(0);
    expect(await expiredEvents(spender)).toHaveLength(1);
  });

  test('points not yet due stay, and show their expiry', async () => {
    const userId = await memberWith(25);
    await projected(userId);
    await h.rewards.expiry.runOnce(addMonths(new Date(), 5));
    const shown = await member(userId);
    expect(shown.balance).toBe(25);
    expect(new Date(shown.lots[0].expiresAt).getTime()).toBeGreaterThan(addMonths(new Date(), 5).getTime());
    expect(await expiredEvents(userId)).toHaveLength(0);
  });

  test('a tier is kept through its period and lowered at its end, once', async () => {
    const userId = await memberWith(1200);
    expect((await member(userId)).tier).toBe('gold');
    await projected(userId);
    await h.rewards.expiry.runOnce(addMonths(new Date(), 11));
    expect((await member(userId)).tier).toBe('gold');
    const end = addMonths(new Date(), 13);
    const runs = await Promise.all([h.rewards.expiry.runOnce(end), replica.expiry.runOnce(end)]);
    expect(runs.reduce((sum, run) => sum + run.tierChanges, 0)).toBe(1);
    expect((await member(userId)).tier).toBe('bronze');
  });
});
