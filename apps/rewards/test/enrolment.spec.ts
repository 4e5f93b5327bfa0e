import { randomUUID } from 'node:crypto';
import { eventually } from '#platform/testing';
import { auth, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Explicit enrolment: a member and their consent, as events; bad input changes nothing. */
describe('explicit enrolment', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
  });
  afterAll(() => h.close());

  const enrol = (userId: string, body: unknown) =>
    h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${userId}/enrolment`)
      .set(auth(tenant))
      .send(body as object);
  const consents = async () => h.storedEvents('rewards.wallet-');

  test('a member enrols with consent once; the member exists from then on', async () => {
    const userId = `e-${randomUUID()}`;
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).status).toBe(404);
    const first = await enrol(userId, { consent: true, channel: 'web-form' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ userId, enrolled: true, balance: 0, consentRecordedAt: expect.any(String) });
    const stored = await consents();
    const again = await enrol(userId, { consent: true, channel: 'till' });
    expect(again.body.consentRecordedAt).toBe(first.body.consentRecordedAt);
    expect(await consents()).toBe(stored);
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).status).toBe(200);
  });

  test('an enrolled member without points is in the member list, with balance 0 and no tier', async () => {
    const userId = `e-${randomUUID()}`;
    expect((await enrol(userId, { consent: true, channel: 'web-form' })).status).toBe(201);
    const listed = async () =>
      (
        (await h.rewards.http().get(`/t/${tenant.slug}/members?limit=500`).set(auth(tenant)).expect(200)).body.items as { userId: string }[]
      ).find((item) => item.userId === userId);
    await eventually(async () => expect(await listed()).toEqual({ userId, tier: null, balance: 0 }));
    const byBalance = await h.rewards.http().get(`/t/${tenant.slug}/members?maxBalance=0&limit=500`).set(auth(tenant)).expect(200);
    expect(byBalance.body.items.map((item: { userId: string }) => item.userId)).toContain(userId);
  });

  test('no consent, or anything else, is a 400 naming the field, and enrols nobody', async () => {
    const userId = `n-${randomUUID()}`;
    const stored = await consents();
    for (const [body, pointer] of [
      [{ consent: false }, '/consent'],
      [{}, '/consent'],
      [{ consent: 'yes' }, '/consent'],
      [{ consent: true, channel: 'a\u0000b' }, '/channel'],
      [{ consent: true, extra: 1 }, '/extra'],
    ] as const) {
      const answer = await enrol(userId, body);
      expect(answer.status).toBe(400);
      expect(answer.body.errors.map((each: { pointer: string }) => each.pointer)).toContain(pointer);
    }
    expect(await consents()).toBe(stored);
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).status).toBe(404);
  });
});
