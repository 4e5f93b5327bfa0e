import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** A member's points expiring soon, and the program's expiry setting as the API takes it. */
describe('points expiring soon', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
  });
  afterAll(() => h.close());

  const http = () => h.rewards.http();
  const publish = (expiry: unknown) =>
    http()
      .put(`/t/${tenant.slug}/program`)
      .set(auth(tenant))
      .send({ ...PROGRAM, expiry });

  test('GET .../expiring?days=N lists what expires within N days', async () => {
    expect((await publish({ monthsAfterEarning: 1 })).status).toBe(200);
    const userId = `x-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 25 });
    const expiring = (days?: string) =>
      http()
        .get(`/t/${tenant.slug}/members/${userId}/expiring${days === undefined ? '' : `?days=${days}`}`)
        .set(auth(tenant));
    // A month is 28 to 31 days: within 32, not within 27.
    expect((await expiring('32')).body).toMatchObject({ userId, days: 32, points: 25, lots: [expect.objectContaining({ points: 25 })] });
    expect((await expiring('27')).body).toMatchObject({ days: 27, points: 0, lots: [] });
    expect((await expiring()).body.days).toBe(30);
    for (const bad of ['0', '367', '1.5', 'abc', '-3']) {
      const answer = await expiring(bad);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ parameter: 'days' });
    }
    expect((await http().get(`/t/${tenant.slug}/members/nobody-${randomUUID()}/expiring`).set(auth(tenant))).status).toBe(404);
  });

  test('the expiry job announces a lot some days before it expires, once (its clock injected)', async () => {
    expect((await publish({ monthsAfterEarning: 1, remindDaysBefore: 7 })).status).toBe(200);
    const userId = `r-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 12 });
    await h.rewards.app.get(ProjectionRunner).waitFor((await h.rewards.runtime.infrastructure.eventStore.headPosition())!);
    const lot = (await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.lots[0];
    const expiresAt = new Date(lot.expiresAt).getTime();
    const reminders = async () =>
      (await http().get(`/t/${tenant.slug}/members/${userId}/transactions`).set(auth(tenant))).body.items.filter(
        (item: { type: string }) => item.type === 'PointsExpiringSoon',
      );
    await h.rewards.expiry.runOnce(new Date(expiresAt - 8 * 24 * 3600 * 1000));
    expect(await reminders()).toEqual([]);
    await h.rewards.expiry.runOnce(new Date(expiresAt - 6 * 24 * 3600 * 1000));
    expect(await reminders()).toEqual([expect.objectContaining({ lotId: lot.lotId, points: 12, expiresAt: lot.expiresAt })]);
    await h.rewards.app.get(ProjectionRunner).waitFor((await h.rewards.runtime.infrastructure.eventStore.headPosition())!);
    await h.rewards.expiry.runOnce(new Date(expiresAt - 5 * 24 * 3600 * 1000));
    expect(await reminders()).toHaveLength(1);
  });

  test('the program takes end-of-period expiry and reminders; a bad one is a 400 naming the field', async () => {
    const published = await publish({ endOfPeriod: { period: 'year', periodsAfter: 1 }, remindDaysBefore: 14 });
    expect(published.status).toBe(200);
    expect(published.body.expiry).toEqual({ endOfPeriod: { period: 'year', periodsAfter: 1 }, remindDaysBefore: 14 });
    const userId = `y-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 5 });
    const member = (await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body;
    expect(member.lots[0].expiresAt).toBe(`${new Date().getUTCFullYear() + 2}-01-01T00:00:00.000Z`);
    const bad = await publish({ endOfPeriod: { period: 'week', periodsAfter: 0 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('/expiry');
    expect((await publish({ monthsAfterEarning: 6, remindDaysBefore: 31 })).status).toBe(400);
    expect((await http().get(`/t/${tenant.slug}/program`).set(auth(tenant))).body.expiry).toEqual({
      endOfPeriod: { period: 'year', periodsAfter: 1 },
      remindDaysBefore: 14,
    });
  });
});
