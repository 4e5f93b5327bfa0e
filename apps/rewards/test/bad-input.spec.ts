import { randomUUID } from 'node:crypto';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

type Response = { status: number; headers: Record<string, string>; body: Record<string, unknown> };

/** Every refusal is a 4xx problem+json that names the problem, and changes nothing. */
describe('bad input', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let other: Tenant;
  let rewardId: string;
  let userId: string;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    other = await h.createTenant();
    await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM);
    rewardId = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 100, stock: 1 })).body
      .id;
    userId = `m-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 150 });
  });
  afterAll(() => h.close());

  function expectProblem(response: Response, status: number, type?: string) {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.status).toBe(status);
    if (type) expect(response.body.type).toBe(`https://tessera.dev/problems/${type}`);
  }
  const pointers = (body: { errors?: { pointer: string }[] }) => (body.errors ?? []).map((e) => e.pointer).sort();
  /** Each field once, however many of its rules it breaks. */
  const fields = (body: { errors?: { pointer: string }[] }) => [...new Set(pointers(body))];

  async function unchanged(work: () => Promise<void>) {
    const before = await h.storedEvents();
    await work();
    expect(await h.storedEvents()).toBe(before);
  }
  const redeem = (member: string, body: object, key: string | null = randomUUID(), as: Tenant = tenant) => {
    const call = h.rewards.http().post(`/t/${tenant.slug}/members/${member}/redemptions`).set(auth(as));
    return (key === null ? call : call.set('idempotency-key', key)).send(body);
  };

  test('malformed rules are named by JSON pointer', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .put(`/t/${tenant.slug}/program`)
        .set(auth(tenant))
        .send({
          rules: [
            { id: 'Bad Id', event: 'X', award: { kind: 'fixed', points: -5 } },
            {
              id: 'ok',
              event: 'Y',
              conditions: [{ property: 'total', op: 'gt', value: 'ten' }],
              award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'sideways' },
            },
          ],
          tiers: { periodMonths: 12, levels: [{ name: 'a', threshold: 5 }] },
          surprise: true,
        });
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body as never)).toEqual([
        '/rules/0/award/points',
        '/rules/0/id',
        '/rules/1/award/rounding',
        '/rules/1/conditions/0/value',
        '/surprise',
      ]);
    }));

  test('rules that are well-formed but inconsistent are refused too', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .put(`/t/${tenant.slug}/program`)
        .set(auth(tenant))
        .send({
          rules: [],
          tiers: {
            periodMonths: 12,
            levels: [
              { name: 'a', threshold: 0 },
              { name: 'b', threshold: 0 },
            ],
          },
        });
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body as never)).toEqual(['/tiers/levels/1/threshold']);
    }));

  test('a program with values past what storage holds is refused, each named by pointer', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .put(`/t/${tenant.slug}/program`)
        .set(auth(tenant))
        .send({
          rules: [
            {
              id: 'ok',
              event: 'Order\u0000Completed',
              conditions: [
                { property: 'total\n', op: 'eq', value: 'x' },
                { property: 'currency', op: 'eq', value: 'EUR\u0000' },
                { property: 'total', op: 'gt', value: 1e300 },
              ],
              award: { kind: 'fixed', points: 1e300 },
              caps: { perDay: 2 ** 31 },
              sources: ['server', 'browser'],
            },
          ],
          tiers: {
            periodMonths: 12,
            levels: [
              { name: 'a', threshold: 0 },
              { name: 'b\u001b', threshold: 1e13 },
            ],
          },
          limits: { maxPointsPerEvent: 2e9, perMemberPerDay: 0.5 },
        });
      expectProblem(response, 400, 'validation-failed');
      expect(fields(response.body as never)).toEqual([
        '/limits/maxPointsPerEvent',
        '/limits/perMemberPerDay',
        '/rules/0/award/points',
        '/rules/0/caps/perDay',
        '/rules/0/conditions/0/property',
        '/rules/0/conditions/1/value',
        '/rules/0/conditions/2/value',
        '/rules/0/event',
        '/rules/0/sources/1',
        '/tiers/levels/1/name',
        '/tiers/levels/1/threshold',
      ]);
    }));

  test('catalog terms past what storage holds are refused, each named by pointer', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/rewards`)
        .set(auth(tenant))
        .send({
          name: 'Mug\u0000',
          cost: 2 ** 31,
          stock: 1e300,
          perMemberLimit: 0,
          validFrom: '1969-12-31T23:59:59Z',
          validUntil: '9999-12-31T23:00:00-05:00',
        });
      expectProblem(response, 400, 'validation-failed');
      expect(fields(response.body as never)).toEqual(['/cost', '/name', '/perMemberLimit', '/stock', '/validFrom', '/validUntil']);
    }));

  test('an adjustment past what storage holds is refused, each field named', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
        .set(auth(tenant))
        .send({ points: 1e300, reason: 'late\u0000parcel', actor: 'agent\n7' });
      expectProblem(response, 400, 'validation-failed');
      expect(fields(response.body as never)).toEqual(['/actor', '/points', '/reason']);
    }));

  test('a userId with control characters, or a malformed Idempotency-Key, is a 400 naming it', () =>
    unchanged(async () => {
      const member = await h.rewards
        .http()
        .get(`/t/${tenant.slug}/members/${encodeURIComponent('m\u0000x')}`)
        .set(auth(tenant));
      expectProblem(member, 400, 'invalid-parameter');
      expect(member.body.parameter).toBe('userId');
      const key = await redeem(userId, { rewardId }, 'has space');
      expectProblem(key, 400, 'invalid-parameter');
      expect(key.body.parameter).toBe('Idempotency-Key');
      const status = await h.rewards
        .http()
        .get(`/t/${tenant.slug}/redemptions?status=${encodeURIComponent('\u0000')}`)
        .set(auth(tenant));
      expectProblem(status, 400, 'invalid-parameter');
      expect(status.body.parameter).toBe('status');
    }));

  test('a negative or fractional cost or stock is refused', () =>
    unchanged(async () => {
      const response = await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'X', cost: -1, stock: 1.5 });
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body as never)).toEqual(['/cost', '/stock']);
    }));

  test('a validity window that ends before it starts is refused', () =>
    unchanged(async () => {
      const response = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/rewards`)
        .set(auth(tenant))
        .send({ name: 'X', cost: 1, stock: 1, validFrom: '2026-02-01T00:00:00Z', validUntil: '2026-01-01T00:00:00Z' });
      expectProblem(response, 400, 'validation-failed');
    }));

  test('a zero adjustment, or one that would overdraw, is refused', () =>
    unchanged(async () => {
      const zero = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
        .set(auth(tenant))
        .send({ points: 0, reason: 'x', actor: 'ops' });
      expectProblem(zero, 400, 'validation-failed');
      const overdraw = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
        .set(auth(tenant))
        .send({ points: -151, reason: 'x', actor: 'ops' });
      expectProblem(overdraw, 409, 'insufficient-points');
    }));

  test('an unknown member cannot redeem and has no wallet to show', () =>
    unchanged(async () => {
      expectProblem(await redeem('nobody', { rewardId }), 404, 'member-not-found');
      expectProblem(await h.rewards.http().get(`/t/${tenant.slug}/members/nobody`).set(auth(tenant)), 404, 'member-not-found');
    }));

  test('an unknown reward, a missing key or a malformed reward id is refused', () =>
    unchanged(async () => {
      expectProblem(await redeem(userId, { rewardId: randomUUID() }), 404, 'reward-not-found');
      expectProblem(await redeem(userId, { rewardId }, null), 400, 'idempotency-key-required');
      expectProblem(await redeem(userId, { rewardId: 'mug' }), 400, 'validation-failed');
    }));

  test('an expired reward, or one not yet valid, cannot be redeemed', async () => {
    const create = (terms: object) =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/rewards`)
        .set(auth(tenant))
        .send({ name: 'Old', cost: 1, stock: 5, ...terms });
    const expired = (await create({ validFrom: '2020-01-01T00:00:00Z', validUntil: '2021-01-01T00:00:00Z' })).body.id;
    const future = (await create({ validFrom: '2099-01-01T00:00:00Z' })).body.id;
    await unchanged(async () => {
      expectProblem(await redeem(userId, { rewardId: expired }), 410, 'reward-expired');
      expectProblem(await redeem(userId, { rewardId: future }), 409, 'reward-not-yet-valid');
    });
  });

  test('an out-of-stock reward cannot be redeemed', async () => {
    expect((await redeem(userId, { rewardId })).status).toBe(201);
    const richer = `m-${randomUUID()}`;
    await h.track(tenant, richer, 'Grant', { points: 500 });
    await unchanged(async () => expectProblem(await redeem(richer, { rewardId }), 409, 'out-of-stock'));
  });

  test("another tenant's key gets 403, no key 401, an unknown tenant 404", () =>
    unchanged(async () => {
      expectProblem(await redeem(userId, { rewardId }, randomUUID(), other), 403, 'forbidden');
      expectProblem(await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(other)).send(PROGRAM), 403, 'forbidden');
      expectProblem(await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`), 401, 'unauthorized');
      expectProblem(await h.rewards.http().get(`/t/no-such-tenant/members/${userId}`).set(auth(tenant)), 404, 'tenant-not-found');
    }));

  test("one tenant's member and rewards are invisible to another tenant", () =>
    unchanged(async () => {
      expectProblem(await h.rewards.http().get(`/t/${other.slug}/members/${userId}`).set(auth(other)), 404, 'member-not-found');
      expectProblem(await h.rewards.http().get(`/t/${other.slug}/rewards/${rewardId}`).set(auth(other)), 404, 'reward-not-found');
      const list = await h.rewards.http().get(`/t/${other.slug}/rewards`).set(auth(other));
      expect(list.body.items).toEqual([]);
    }));
});
