import { randomUUID } from 'node:crypto';
import { eventually } from '#platform/testing';
import { addMonths } from '../src/shared/calendar';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Loyalty managers list and filter members; finance reads what the outstanding points are worth. */
describe('members and the liability report', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  const ids = { bronze: `m-a-${randomUUID()}`, silver: `m-b-${randomUUID()}`, gold: `m-c-${randomUUID()}` };

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    await h.track(tenant, ids.bronze, 'Grant', { points: 100 });
    await h.track(tenant, ids.silver, 'Grant', { points: 300 });
    await h.track(tenant, ids.gold, 'Grant', { points: 1500 });
    // Earning has applied them; the read models these reports use follow a moment later.
    await eventually(async () => expect((await get('/members').expect(200)).body.items).toHaveLength(3));
  });
  afterAll(() => h.close());

  const get = (path: string) => h.rewards.http().get(`/t/${tenant.slug}${path}`).set(auth(tenant));

  test('members come in id order with tier and balance, filtered by tier and balance, page by page', async () => {
    const all = await get('/members').expect(200);
    expect(all.body).toEqual({
      items: [
        { userId: ids.bronze, tier: 'bronze', balance: 100 },
        { userId: ids.silver, tier: 'silver', balance: 300 },
        { userId: ids.gold, tier: 'gold', balance: 1500 },
      ],
      nextCursor: null,
    });
    expect((await get('/members?tier=silver').expect(200)).body.items.map((m: { userId: string }) => m.userId)).toEqual([ids.silver]);
    expect((await get('/members?minBalance=200&maxBalance=1000').expect(200)).body.items.map((m: { userId: string }) => m.userId)).toEqual([
      ids.silver,
    ]);
    const first = await get('/members?limit=2').expect(200);
    expect(first.body.items).toHaveLength(2);
    const second = await get(`/members?limit=2&cursor=${first.body.nextCursor}`).expect(200);
    expect(second.body.items.map((m: { userId: string }) => m.userId)).toEqual([ids.gold]);
  });

  test('spending lowers the balance and the liability alike', async () => {
    const reward = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 50, stock: 10 }))
      .body;
    const redeemed = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${ids.gold}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId: reward.id });
    expect(redeemed.status).toBe(201);
    await eventually(async () =>
      expect((await get(`/members?minBalance=1450&maxBalance=1450`).expect(200)).body.items).toEqual([
        { userId: ids.gold, tier: 'gold', balance: 1450 },
      ]),
    );
    const liability = await get('/reports/liability?valuePerPoint=0.01').expect(200);
    expect(liability.body.outstanding).toEqual({ points: 1850, value: '18.50' });
  });

  test('the liability adds up in total, by tier and by expiry month, in exact decimals', async () => {
    const report = (await get('/reports/liability?valuePerPoint=0.005').expect(200)).body;
    expect(report.outstanding).toEqual({ points: 1850, value: '9.250' });
    expect(report.byTier).toEqual([
      { tier: 'bronze', points: 100, value: '0.500' },
      { tier: 'gold', points: 1450, value: '7.250' },
      { tier: 'silver', points: 300, value: '1.500' },
    ]);
    // PROGRAM's points expire six months after they were earned, a few seconds ago.
    const due = (at: number) => addMonths(new Date(at), 6).toISOString().slice(0, 7);
    const possible = new Set([due(Date.now()), due(Date.now() - 120_000)]);
    for (const { month } of report.byExpiryMonth as { month: string }[]) expect(possible).toContain(month);
    expect(report.byExpiryMonth.reduce((sum: number, line: { points: number }) => sum + line.points, 0)).toBe(1850);
  });

  test('bad parameters are a 400 problem naming the parameter; another tenant sees none of it', async () => {
    for (const [path, name] of [
      ['/reports/liability', 'valuePerPoint'],
      ['/reports/liability?valuePerPoint=1e-2', 'valuePerPoint'],
      ['/members?minBalance=-1', 'minBalance'],
      ['/members?maxBalance=1.5', 'maxBalance'],
      ['/members?tier=a%00b', 'tier'],
      ['/members?cursor=AA', 'cursor'],
    ] as const) {
      const response = await get(path);
      expect([path, response.status]).toEqual([path, 400]);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      if (name !== 'cursor') expect(JSON.stringify(response.body)).toContain(name);
    }
    const other = await h.createTenant();
    const theirs = await h.rewards.http().get(`/t/${other.slug}/members`).set(auth(other)).expect(200);
    expect(theirs.body).toEqual({ items: [], nextCursor: null });
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members`).set(auth(other))).status).toBe(403);
  });
});
