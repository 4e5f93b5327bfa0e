import { randomUUID } from 'node:crypto';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/**
 * Campaigns through rewards' API and the earning path: created, listed, stopped and archived over
 * HTTP with the tenant's API key, and earning on tracked events as pulse records them.
 */
describe('campaigns', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(async () => h?.close());

  const http = () => h.rewards.http();
  const create = (body: object) => http().post(`/t/${tenant.slug}/campaigns`).set(auth(tenant)).send(body);
  const campaign = async (id: string) => (await http().get(`/t/${tenant.slug}/campaigns/${id}`).set(auth(tenant))).body;
  /** What the campaign added to the member's earnings: the shares their PointsEarned transactions record. */
  const campaignPoints = async (userId: string, id: string) => {
    const page = await http().get(`/t/${tenant.slug}/members/${userId}/transactions?limit=100`).set(auth(tenant));
    const items = page.body.items as { type: string; campaigns?: { campaignId: string; points: number }[] }[];
    return items.flatMap((item) => item.campaigns ?? []).reduce((sum, share) => (share.campaignId === id ? sum + share.points : sum), 0);
  };
  const doubleEur = (id: string) => ({
    id,
    name: 'Double points on euro orders',
    event: 'Order Completed',
    conditions: [{ property: 'currency', op: 'eq', value: 'EUR' }],
    award: { multiplier: 2 },
  });

  test('a multiplier campaign doubles what the program earns, on matching events only, until it is stopped', async () => {
    const id = `double-${randomUUID().slice(0, 8)}`;
    const created = await create(doubleEur(id));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id, status: 'running', award: { bonus: 0, multiplier: 2, tierMultipliers: {} }, spent: 0 });
    const userId = `shopper-${randomUUID()}`;
    await h.track(tenant, userId, 'Order Completed', { total: 120, currency: 'EUR' });
    await h.track(tenant, userId, 'Order Completed', { total: 50, currency: 'USD' });
    expect(await campaignPoints(userId, id)).toBe(120);
    expect(await campaign(id)).toMatchObject({ spent: 120, awards: 1, budgetLeft: null });

    const stopped = await http().post(`/t/${tenant.slug}/campaigns/${id}/stop`).set(auth(tenant));
    expect(stopped.status).toBe(200);
    expect(stopped.body.status).toBe('stopped');
    await h.track(tenant, userId, 'Order Completed', { total: 80, currency: 'EUR' });
    expect(await campaignPoints(userId, id)).toBe(120);
    const archived = await http().post(`/t/${tenant.slug}/campaigns/${id}/archive`).set(auth(tenant));
    expect(archived.body.status).toBe('archived');
    const list = await http().get(`/t/${tenant.slug}/campaigns`).set(auth(tenant));
    expect(list.body.items.map((item: { id: string }) => item.id)).not.toContain(id);
  });

  test('the budget is spent exactly, across the members of one batch, then the campaign is exhausted', async () => {
    const id = `bonus-${randomUUID().slice(0, 8)}`;
    expect((await create({ id, name: 'Bonus', event: 'Grant', award: { bonus: 100 }, limits: { budget: 250 } })).status).toBe(201);
    const members = [1, 2, 3, 4].map((n) => `budget-${n}-${randomUUID()}`);
    await h.rewards.earning.waitFor(
      await h.trackMany(
        tenant,
        members.map((userId) => ({ userId, event: 'Grant', properties: { points: 1 } })),
      ),
    );
    const given = await Promise.all(members.map((userId) => campaignPoints(userId, id)));
    expect(given.reduce((a, b) => a + b, 0)).toBe(250);
    expect([...given].sort((a, b) => b - a)).toEqual([100, 100, 50, 0]);
    expect(await campaign(id)).toMatchObject({ status: 'exhausted', spent: 250, awards: 3, budgetLeft: 0 });
  });

  test('a crash between the wallet writes and the checkpoint neither loses nor doubles campaign points nor their budget', async () => {
    const id = `crash-${randomUUID().slice(0, 8)}`;
    expect((await create({ id, name: 'Crash', event: 'Grant', award: { bonus: 7 }, limits: { budget: 1000 } })).status).toBe(201);
    const members = [1, 2, 3].map((n) => `crash-${n}-${randomUUID()}`);
    const { last, lift } = await h.earnThroughFailingCheckpoints(tenant, members);
    await lift();
    await h.rewards.earning.waitFor(last);
    h.rewards.earningProjection.effectListeners.length = 0;
    for (const userId of members) expect(await campaignPoints(userId, id)).toBe(14);
    expect(await campaign(id)).toMatchObject({ spent: 42, awards: 6 });
  });

  test('the same id and terms again answer the campaign as it is; other terms under its id are a 409', async () => {
    const id = `retry-${randomUUID().slice(0, 8)}`;
    const body = { ...doubleEur(id), validFrom: '2026-01-01T00:00:00Z', validUntil: '2030-01-01T00:00:00Z' };
    expect((await create(body)).status).toBe(201);
    const again = await create(body);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(id);
    const other = await create({ ...body, award: { multiplier: 3 } });
    expect(other.status).toBe(409);
    expect(other.body.type).toContain('campaign-exists');
  });

  test('bad input is a 400 problem+json naming the field, and creates nothing', async () => {
    const id = `bad-${randomUUID().slice(0, 8)}`;
    const cases: [object, string][] = [
      [{ ...doubleEur(id), validFrom: '2027-01-01T00:00:00Z', validUntil: '2026-01-01T00:00:00Z' }, '/validUntil'],
      [{ ...doubleEur(id), schedule: { timeZone: 'Mars/Olympus' } }, '/schedule/timeZone'],
      [{ ...doubleEur(id), schedule: { days: ['sat', 'someday'] } }, '/schedule/days/1'],
      [{ ...doubleEur(id), schedule: { hours: { from: 18, until: 9 } } }, '/schedule/hours/until'],
      [{ ...doubleEur(id), award: { multiplier: 0.5 } }, '/award/multiplier'],
      [{ ...doubleEur(id), award: {} }, '/award'],
      [{ ...doubleEur(id), limits: { budget: -5 } }, '/limits/budget'],
      [{ ...doubleEur(id), conditions: [{ property: 'total', op: 'gt', value: 'many' }] }, '/conditions/0/value'],
      [{ ...doubleEur('Not An Id') }, '/id'],
      [{ ...doubleEur(id), surprise: true }, ''],
    ];
    for (const [body, pointer] of cases) {
      const response = await create(body);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(JSON.stringify(response.body)).toContain(`"${pointer}`);
    }
    expect((await http().get(`/t/${tenant.slug}/campaigns/${id}`).set(auth(tenant))).status).toBe(404);
  });

  test("campaigns take the tenant's API key: none is a 401, another tenant's a 403; an unknown campaign a 404", async () => {
    const other = await h.createTenant();
    expect((await http().get(`/t/${other.slug}/campaigns`).set(auth(other))).body).toEqual({ items: [] });
    expect((await http().get(`/t/${tenant.slug}/campaigns`)).status).toBe(401);
    expect((await http().get(`/t/${tenant.slug}/campaigns`).set(auth(other))).status).toBe(403);
    expect((await http().post(`/t/${tenant.slug}/campaigns/nope/stop`).set(auth(tenant))).status).toBe(404);
    expect((await http().get(`/t/${tenant.slug}/campaigns/NOT%20AN%20ID`).set(auth(tenant))).status).toBe(404);
  });
});
