import { randomUUID } from 'node:crypto';
import { eventually } from '#platform/testing';
import { addMonths } from '../src/shared/calendar';
import { auth, PROGRAM, startRewards, TestClock, type RewardsHarness, type Tenant } from './rewards-harness';

/**
 * Tier depth through the API, on a test clock: the replica's own periodic job reviews tiers at
 * what the clock says is now, so a year's period and its grace pass in seconds, not by sleeping.
 */
describe('tiers: grace before a downgrade, manual assignment, benefits', () => {
  const clock = new TestClock();
  let h: RewardsHarness;
  let tenant: Tenant;
  const tiers = {
    periodMonths: 12,
    graceMonths: 2,
    levels: [
      { name: 'bronze', threshold: 0 },
      { name: 'silver', threshold: 200 },
      { name: 'gold', threshold: 1000, earningMultiplier: 2 },
    ],
  };

  beforeAll(async () => {
    h = await startRewards({ clock, env: { REWARDS_EXPIRY_INTERVAL_MS: '100' } });
    tenant = await h.createTenant();
    const published = await h.rewards
      .http()
      .put(`/t/${tenant.slug}/program`)
      .set(auth(tenant))
      .send({ ...PROGRAM, tiers, expiry: null });
    expect(published.status).toBe(200);
    expect(published.body.tiers).toEqual(tiers);
  });
  afterAll(async () => h?.close());

  const member = async (userId: string) => (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body;
  const history = async (userId: string) =>
    (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}/transactions?limit=100`).set(auth(tenant))).body.items as {
      type: string;
      [field: string]: unknown;
    }[];

  test('a member below their tier at the review keeps it through the grace, then goes down, by the job on the test clock', async () => {
    const userId = `grace-${randomUUID()}`;
    const start = new Date();
    clock.set(start);
    await h.track(tenant, userId, 'Grant', { points: 1200 });
    expect((await member(userId)).tier).toBe('gold');
    // The period ends a year after the points were recorded (a moment after `start`): a minute past it.
    clock.set(new Date(addMonths(start, 12).getTime() + 60_000));
    await eventually(async () => (await history(userId)).some((event) => event.type === 'TierGraceStarted'));
    expect((await member(userId)).tier).toBe('gold');
    clock.set(addMonths(start, 15));
    await eventually(async () => (await member(userId)).tier === 'bronze');
    const changes = (await history(userId)).filter((event) => event.type.startsWith('Tier'));
    expect(changes.map((event) => [event.type, event.to ?? event.tier])).toEqual([
      ['TierChanged', 'gold'],
      ['TierGraceStarted', 'gold'],
      ['TierChanged', 'bronze'],
    ]);
  });

  test("an operator's tier, with the reason on record; the tier's benefit doubles what the rules earn", async () => {
    const userId = `vip-${randomUUID()}`;
    clock.set(new Date());
    await h.track(tenant, userId, 'Grant', { points: 10 });
    const assign = (body: object) => h.rewards.http().post(`/t/${tenant.slug}/members/${userId}/tier`).set(auth(tenant)).send(body);
    const assigned = await assign({ tier: 'gold', reason: 'complaint handled, goodwill', actor: 'agent-7' });
    expect(assigned.status).toBe(200);
    expect(assigned.body).toEqual({ userId, tier: 'gold', reviewAt: addMonths(clock.now(), 12).toISOString() });
    expect((await assign({ tier: 'gold', reason: 'again', actor: 'agent-7' })).status).toBe(200);
    const record = (await history(userId)).filter((event) => event.type === 'TierAssigned');
    expect(record).toMatchObject([{ from: 'bronze', to: 'gold', reason: 'complaint handled, goodwill', actor: 'agent-7' }]);
    await h.track(tenant, userId, 'Grant', { points: 21 });
    expect((await member(userId)).balance).toBe(10 + 42);
  });

  test('a tier the program lacks is a 400 naming /tier; an unknown member a 404; bad input changes nothing', async () => {
    const userId = `someone-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 5 });
    const post = (who: string, body: object) => h.rewards.http().post(`/t/${tenant.slug}/members/${who}/tier`).set(auth(tenant)).send(body);
    const unknownTier = await post(userId, { tier: 'platinum', reason: 'r', actor: 'a' });
    expect(unknownTier.status).toBe(400);
    expect(JSON.stringify(unknownTier.body)).toContain('"/tier"');
    expect((await post(`nobody-${randomUUID()}`, { tier: 'gold', reason: 'r', actor: 'a' })).status).toBe(404);
    const noReason = await post(userId, { tier: 'gold', reason: '  ', actor: 'a' });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body)).toContain('"/reason"');
    expect((await member(userId)).tier).toBe('bronze');
  });
});
