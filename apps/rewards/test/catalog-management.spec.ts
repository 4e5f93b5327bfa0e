import { randomUUID } from 'node:crypto';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** A loyalty manager runs the catalog: edits, restocks, deactivations, categories, tier-only items and voucher codes. */
describe('catalog management over HTTP', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    other = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(() => h.close());

  const http = () => h.rewards.http();
  async function reward(terms: object = {}, as: Tenant = tenant): Promise<string> {
    const response = await http()
      .post(`/t/${as.slug}/rewards`)
      .set(auth(as))
      .send({ name: 'Mug', cost: 10, stock: 100, ...terms });
    expect(response.status).toBe(201);
    return response.body.id;
  }
  async function memberWith(points: number, as: Tenant = tenant): Promise<string> {
    const userId = `m-${randomUUID()}`;
    await h.track(as, userId, 'Grant', { points });
    return userId;
  }
  const redeem = (userId: string, rewardId: string, as: Tenant = tenant) =>
    http().post(`/t/${as.slug}/members/${userId}/redemptions`).set(auth(as)).set('idempotency-key', randomUUID()).send({ rewardId });
  const shown = async (rewardId: string) => (await http().get(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant))).body;
  const balance = async (userId: string) => (await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance;

  test('an update changes the terms sent, keeps the others, and the list shows them', async () => {
    const rewardId = await reward({ perMemberLimit: 3 });
    const updated = await http().patch(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant)).send({ name: 'Big mug', cost: 25 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: rewardId, name: 'Big mug', cost: 25, perMemberLimit: 3, stock: 100 });
    const listed = await http().get(`/t/${tenant.slug}/rewards?limit=500`).set(auth(tenant));
    expect(listed.body.items).toContainEqual(expect.objectContaining({ id: rewardId, name: 'Big mug', cost: 25, perMemberLimit: 3 }));
    // A redemption now pays the new cost.
    const userId = await memberWith(100);
    expect((await redeem(userId, rewardId)).body.cost).toBe(25);
    expect(await balance(userId)).toBe(75);
  });

  test('restocking adds units, once per Idempotency-Key, and makes a sold-out reward redeemable again', async () => {
    const rewardId = await reward({ stock: 1 });
    const [first, second] = [await memberWith(10), await memberWith(10)];
    expect((await redeem(first, rewardId)).status).toBe(201);
    expect((await redeem(second, rewardId)).body.type).toBe('https://tessera.dev/problems/out-of-stock');
    const restock = () => http().post(`/t/${tenant.slug}/rewards/${rewardId}/restocks`).set(auth(tenant)).set('idempotency-key', 'box-1');
    const restocked = await restock().send({ units: 5 });
    expect(restocked.status).toBe(201);
    expect(restocked.body).toMatchObject({ stock: 6, remaining: 5 });
    expect((await restock().send({ units: 5 })).body).toMatchObject({ stock: 6, remaining: 5 });
    expect((await redeem(second, rewardId)).status).toBe(201);
    expect(await shown(rewardId)).toMatchObject({ stock: 6, remaining: 4 });
  });

  test('restocks racing redemptions: every unit added is counted, none sold twice', async () => {
    const rewardId = await reward({ stock: 5 });
    const members = await Promise.all(Array.from({ length: 20 }, () => memberWith(10)));
    const [redemptions] = await Promise.all([
      Promise.all(members.map((userId) => redeem(userId, rewardId))),
      Promise.all(
        Array.from({ length: 5 }, () => http().post(`/t/${tenant.slug}/rewards/${rewardId}/restocks`).set(auth(tenant)).send({ units: 2 })),
      ),
    ]);
    const confirmed = redemptions.filter((r) => r.status === 201).length;
    expect(redemptions.filter((r) => r.status >= 500)).toHaveLength(0);
    expect(await shown(rewardId)).toMatchObject({ stock: 15, remaining: 15 - confirmed });
    expect(confirmed).toBeGreaterThanOrEqual(5);
  });

  test('a deactivated reward cannot be redeemed, its redemptions stay as they were; reactivated, it can', async () => {
    const rewardId = await reward();
    const userId = await memberWith(100);
    const before = await redeem(userId, rewardId);
    const deactivated = await http().post(`/t/${tenant.slug}/rewards/${rewardId}/deactivation`).set(auth(tenant));
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    const refused = await redeem(userId, rewardId);
    expect(refused.status).toBe(409);
    expect(refused.body.type).toBe('https://tessera.dev/problems/reward-inactive');
    expect(await balance(userId)).toBe(90);
    expect((await http().get(`/t/${tenant.slug}/redemptions/${before.body.id}`).set(auth(tenant))).body.status).toBe('confirmed');
    const cancelled = await http().post(`/t/${tenant.slug}/redemptions/${before.body.id}/cancellation`).set(auth(tenant));
    expect(cancelled.body.status).toBe('cancelled');
    expect((await http().post(`/t/${tenant.slug}/rewards/${rewardId}/reactivation`).set(auth(tenant))).body.active).toBe(true);
    expect((await redeem(userId, rewardId)).status).toBe(201);
  });

  test('the list filters by category', async () => {
    const category = `garden-${randomUUID().slice(0, 8)}`;
    const inCategory = await reward({ category });
    await reward({ category: 'kitchen' });
    const listed = await http().get(`/t/${tenant.slug}/rewards?category=${category}`).set(auth(tenant));
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([inCategory]);
    expect(listed.body.items[0]).toMatchObject({ category, active: true, tiers: null });
  });

  test('a tier-only reward is refused to a lower tier with a problem naming the tiers, and taken by a member of them', async () => {
    const rewardId = await reward({ tiers: ['gold'] });
    const silver = await memberWith(300);
    const refused = await redeem(silver, rewardId);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      type: 'https://tessera.dev/problems/tier-required',
      requiredTiers: ['gold'],
      memberTier: 'silver',
    });
    expect(refused.body.detail).toContain('gold');
    expect(await balance(silver)).toBe(300);
    const gold = await memberWith(1000);
    expect((await redeem(gold, rewardId)).status).toBe(201);
  });

  test('the availability window, changed by an update, holds at redemption', async () => {
    const rewardId = await reward();
    const userId = await memberWith(100);
    const closed = await http()
      .patch(`/t/${tenant.slug}/rewards/${rewardId}`)
      .set(auth(tenant))
      .send({ validFrom: '2020-01-01T00:00:00Z', validUntil: '2021-01-01T00:00:00Z' });
    expect(closed.status).toBe(200);
    expect((await redeem(userId, rewardId)).status).toBe(410);
    const later = await http()
      .patch(`/t/${tenant.slug}/rewards/${rewardId}`)
      .set(auth(tenant))
      .send({ validFrom: '2999-01-01T00:00:00Z', validUntil: null });
    expect(later.status).toBe(200);
    expect((await redeem(userId, rewardId)).body.type).toBe('https://tessera.dev/problems/reward-not-yet-valid');
    expect(await balance(userId)).toBe(100);
  });

  test('20 members racing for a reward with 10 imported codes: 10 get a code each, 10 are told it is out of codes, no code twice', async () => {
    const codes = Array.from({ length: 10 }, (_, i) => `SPRING-${i}-${randomUUID().slice(0, 6)}`);
    const rewardId = await reward({ stock: 100, voucher: { kind: 'imported', codes } });
    expect(await shown(rewardId)).toMatchObject({ voucher: { kind: 'imported', codesLeft: 10 } });
    expect(JSON.stringify(await shown(rewardId))).not.toContain('SPRING-');
    // Sealed at rest: the store holds no code in clear.
    const inClear = await h.rewards.runtime.infrastructure.pool.query(
      `SELECT count(*)::int AS n FROM es_events WHERE data::text LIKE '%SPRING-%'`,
    );
    expect(inClear.rows[0].n).toBe(0);
    const members = await Promise.all(Array.from({ length: 20 }, () => memberWith(10)));
    const responses = await Promise.all(members.map((userId) => redeem(userId, rewardId)));
    const won = responses.filter((r) => r.status === 201);
    const lost = responses.filter((r) => r.status !== 201);
    expect(won).toHaveLength(10);
    expect(lost).toHaveLength(10);
    for (const refused of lost) {
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('https://tessera.dev/problems/out-of-codes');
    }
    const handedOut = won.map((r) => r.body.code);
    expect(new Set(handedOut).size).toBe(10);
    expect([...handedOut].sort()).toEqual([...codes].sort());
    // Each member who got a code sees it on their redemption; those refused paid nothing.
    for (const r of won)
      expect((await http().get(`/t/${tenant.slug}/redemptions/${r.body.id}`).set(auth(tenant))).body.code).toBe(r.body.code);
    const balances = await Promise.all(members.map(balance));
    expect(balances.filter((b) => b === 0)).toHaveLength(10);
    expect(await shown(rewardId)).toMatchObject({ remaining: 90, voucher: { codesLeft: 0 } });
    // More codes, and the reward hands them out again.
    const more = await http()
      .post(`/t/${tenant.slug}/rewards/${rewardId}/codes`)
      .set(auth(tenant))
      .send({ codes: ['LATE-1'] });
    expect(more.status).toBe(201);
    expect(more.body.voucher.codesLeft).toBe(1);
    expect((await redeem(await memberWith(10), rewardId)).body.code).toBe('LATE-1');
  });

  test('generated codes carry the prefix and length asked for, each different; another tenant sees none of them', async () => {
    const rewardId = await reward({ voucher: { kind: 'generated', prefix: 'MUG-', length: 8 } });
    const members = await Promise.all(Array.from({ length: 10 }, () => memberWith(10)));
    const responses = await Promise.all(members.map((userId) => redeem(userId, rewardId)));
    const codes = responses.map((r) => r.body.code as string);
    for (const code of codes) expect(code).toMatch(/^MUG-[A-HJ-NP-Z2-9]{8}$/);
    expect(new Set(codes).size).toBe(10);
    const peek = await http().get(`/t/${tenant.slug}/redemptions/${responses[0]!.body.id}`).set(auth(other));
    expect(peek.status).toBe(403);
    expect(JSON.stringify(peek.body)).not.toContain(codes[0]);
    const listed = await http().get(`/t/${other.slug}/redemptions/${responses[0]!.body.id}`).set(auth(other));
    expect(listed.status).toBe(404);
    // The admin list shows no codes; the store holds none in clear.
    const page = await http().get(`/t/${tenant.slug}/redemptions?limit=500`).set(auth(tenant));
    expect(JSON.stringify(page.body)).not.toContain(codes[0]);
    const stored = await h.rewards.runtime.infrastructure.pool.query(`SELECT count(*)::int AS n FROM es_events WHERE data::text LIKE $1`, [
      `%${codes[0]}%`,
    ]);
    expect(stored.rows[0].n).toBe(0);
  });

  test('bad catalog input is a problem naming the field, and changes nothing', async () => {
    const rewardId = await reward({ voucher: { kind: 'imported', codes: ['X-1'] } });
    const before = await h.storedEvents();
    const cases: [
      string,
      () => PromiseLike<{ status: number; body: { errors?: { pointer: string }[]; type?: string } }>,
      number,
      string[],
    ][] = [
      [
        'patch stock',
        () => http().patch(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant)).send({ stock: 5 }),
        400,
        ['', '/stock'],
      ],
      ['patch empty', () => http().patch(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant)).send({}), 400, ['']],
      ['patch tiers', () => http().patch(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant)).send({ tiers: [] }), 400, ['/tiers']],
      [
        'unknown tier',
        () =>
          http()
            .patch(`/t/${tenant.slug}/rewards/${rewardId}`)
            .set(auth(tenant))
            .send({ tiers: ['gold', 'Gold'] }),
        400,
        ['/tiers/1'],
      ],
      [
        'restock 0',
        () => http().post(`/t/${tenant.slug}/rewards/${rewardId}/restocks`).set(auth(tenant)).send({ units: 0 }),
        400,
        ['/units'],
      ],
      [
        'restock past bound',
        () => http().post(`/t/${tenant.slug}/rewards/${rewardId}/restocks`).set(auth(tenant)).send({ units: 1e9 }),
        400,
        ['/units'],
      ],
      [
        'duplicate codes',
        () =>
          http()
            .post(`/t/${tenant.slug}/rewards/${rewardId}/codes`)
            .set(auth(tenant))
            .send({ codes: ['Y-1', 'Y-1', 'X-1'] }),
        400,
        ['/codes/1', '/codes/2'],
      ],
      ['no codes', () => http().post(`/t/${tenant.slug}/rewards/${rewardId}/codes`).set(auth(tenant)).send({ codes: [] }), 400, ['/codes']],
      [
        'too many codes',
        () =>
          http()
            .post(`/t/${tenant.slug}/rewards/${rewardId}/codes`)
            .set(auth(tenant))
            .send({ codes: Array.from({ length: 1001 }, (_, i) => `Z-${i}`) }),
        400,
        ['/codes'],
      ],
      [
        'bad voucher',
        () =>
          http()
            .post(`/t/${tenant.slug}/rewards`)
            .set(auth(tenant))
            .send({ name: 'V', cost: 1, stock: 1, voucher: { kind: 'generated', prefix: 'lower', length: 3 } }),
        400,
        ['/voucher/length', '/voucher/prefix'],
      ],
      [
        'bad category',
        () =>
          http()
            .get(`/t/${tenant.slug}/rewards?category=${encodeURIComponent('a\u0001')}`)
            .set(auth(tenant)),
        400,
        [],
      ],
    ];
    for (const [name, call, status, pointers] of cases) {
      const response = await call();
      expect([name, response.status]).toEqual([name, status]);
      if (pointers.length > 0)
        expect([name, [...new Set((response.body.errors ?? []).map((e) => e.pointer))].sort()]).toEqual([name, pointers]);
    }
    const generated = await reward({ voucher: { kind: 'generated' } });
    const intoGenerated = await http()
      .post(`/t/${tenant.slug}/rewards/${generated}/codes`)
      .set(auth(tenant))
      .send({ codes: ['A'] });
    expect(intoGenerated.status).toBe(409);
    expect((await http().patch(`/t/${tenant.slug}/rewards/${randomUUID()}`).set(auth(tenant)).send({ name: 'x' })).status).toBe(404);
    expect(await h.storedEvents()).toBe(before + 1);
  });
});
