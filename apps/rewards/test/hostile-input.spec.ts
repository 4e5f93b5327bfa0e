import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { BOUNDS } from '#platform';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

type Response = { status: number; headers: Record<string, string>; body: Record<string, unknown> };

/** Text as hostile clients write it: control characters, lone surrogates, lengths past every bound. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    'line\nbreak',
    '\u001b[31m',
    ' ',
    '',
    'Mug',
    'x'.repeat(BOUNDS.textLength + 1),
  ),
  // Past an identifier, in characters that each take 9 when percent-encoded in a path (the HTTP
  // parser itself refuses request lines past 16 KB, before any service code runs).
  fc.integer({ min: -1, max: 1 }).map((n) => 'é'.repeat(BOUNDS.identifierLength + n)),
);
/** Numbers past every column, fractions, negatives; NaN and infinities travel as JSON null. */
const hostileNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    1e300,
    -1e300,
    2 ** 31,
    2 ** 31 - 1,
    2 ** 53,
    1_073_741_824,
    0,
    -1,
    0.5,
    BOUNDS.points + 1,
    BOUNDS.quantity + 1,
    BOUNDS.pointsTotal + 1,
  ),
);
const hostileInstant = fc.oneof(
  fc.constantFrom(
    '9999-12-31T23:00:00-05:00',
    '+010000-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    'tomorrow',
    '2026-06-01T00:00:00Z',
    '9999-12-31T23:59:59.999Z',
  ),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((date) => date.toISOString()),
);
/** Any JSON-ish value where a specific one is expected: wrong types included. */
const anything = fc.oneof(hostileText, hostileNumber, fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 });
/**
 * Three times in four a value the edge should take, so that whole bodies of acceptable terms come
 * up often enough (about a quarter of catalog bodies) for the accepted path to be exercised on
 * every run; at even odds one body in twenty was wholly valid, and some runs saw only four.
 */
const orValid = <T, V>(valid: fc.Arbitrary<V>, hostile: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: hostile, weight: 1 });

/**
 * Generated hostile input at every rewards edge: whatever comes in, the answer is a success or a
 * 4xx problem+json, never a 5xx; a refusal stores nothing; and afterwards the read models, catalog
 * writes and readiness are as they were.
 */
describe('hostile input at every rewards edge', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let rewardId: string;
  let userId: string;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    rewardId = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 10, stock: 1000 }))
      .body.id;
    userId = `m-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 1000 });
    await h.track(tenant, userId, 'Order Completed', { order_id: 'O-1', total: 100, currency: 'EUR' });
  });
  afterAll(() => h.close());

  /** Sends one hostile call and checks what any answer to it must be. */
  async function answersSafely(call: () => PromiseLike<Response>): Promise<Response> {
    const before = await h.storedEvents();
    const response = await call();
    expect(response.status).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await h.storedEvents()).toBe(before);
      if (response.body.type === 'https://tessera.dev/problems/validation-failed')
        expect((response.body.errors as unknown[]).length).toBeGreaterThan(0);
    }
    return response;
  }
  /** A path segment as a client would send it; lone surrogates cannot be percent-encoded at all. */
  const segment = (value: string) => (value.isWellFormed() ? encodeURIComponent(value) : encodeURIComponent(value.toWellFormed()));

  test('catalog writes', async () => {
    const outcomes: number[] = [];
    const body = fc.record(
      {
        name: orValid(fc.constantFrom('Mug', 'Tote bag'), fc.oneof(hostileText, anything)),
        cost: orValid(fc.integer({ min: 1, max: BOUNDS.points }), fc.oneof(hostileNumber, anything)),
        stock: orValid(fc.integer({ min: 0, max: BOUNDS.quantity }), fc.oneof(hostileNumber, anything)),
        perMemberLimit: maybe(orValid(fc.integer({ min: 1, max: 10 }), fc.oneof(hostileNumber, fc.constant(null)))),
        validFrom: maybe(orValid(fc.constant('2020-01-01T00:00:00Z'), fc.oneof(hostileInstant, anything))),
        validUntil: maybe(orValid(fc.constant('2999-01-01T00:00:00+02:00'), fc.oneof(hostileInstant, fc.constant(null)))),
      },
      { requiredKeys: ['name', 'cost', 'stock'] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (terms) => {
        const response = await answersSafely(() => h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send(terms));
        outcomes.push(response.status);
        if (response.status === 201) {
          const shown = await h.rewards.http().get(`/t/${tenant.slug}/rewards/${response.body.id}`).set(auth(tenant));
          expect(shown.body).toMatchObject({ name: response.body.name, cost: response.body.cost, stock: response.body.stock });
        }
      }),
      { numRuns: 120 },
    );
    // Accepted terms were exercised too, not only refusals.
    expect(outcomes.filter((status) => status === 201).length).toBeGreaterThan(5);
  });

  test('programs', async () => {
    const outcomes: number[] = [];
    const rule = fc.record(
      {
        id: orValid(fc.constantFrom('order', 'a'), fc.oneof(fc.constant('Bad Id'), hostileText)),
        event: orValid(fc.constant('Order Completed'), hostileText),
        conditions: fc.array(
          fc.record({
            property: fc.oneof(fc.constant('total'), hostileText),
            op: fc.constantFrom('eq', 'gt', 'in', 'exists'),
            value: anything,
          }),
          { maxLength: 3 },
        ),
        award: fc.oneof(
          fc.record({ kind: fc.constant('fixed'), points: orValid(fc.integer({ min: 1, max: BOUNDS.points }), hostileNumber) }),
          fc.record({
            kind: fc.constant('perAmount'),
            property: fc.oneof(fc.constant('total'), hostileText),
            pointsPerUnit: orValid(fc.constantFrom(1, 2, 0.5), hostileNumber),
            rounding: fc.constantFrom('down', 'up', 'sideways'),
          }),
        ),
        caps: maybe(fc.record({ perDay: maybe(hostileNumber), perMonth: maybe(hostileNumber) }, { requiredKeys: [] })),
        sources: maybe(fc.oneof(fc.constant(['server', 'client']), fc.array(fc.oneof(fc.constantFrom('server', 'client'), hostileText)))),
      },
      { requiredKeys: ['id', 'event', 'award'] },
    );
    const program = fc.record(
      {
        rules: fc.array(rule, { maxLength: 3 }),
        tiers: maybe(
          fc.record({
            periodMonths: hostileNumber,
            levels: fc.array(fc.record({ name: hostileText, threshold: hostileNumber }), { maxLength: 3 }),
          }),
        ),
        limits: maybe(
          fc.record(
            { maxPointsPerEvent: maybe(hostileNumber), perMemberPerDay: maybe(hostileNumber), perMemberPerMonth: maybe(hostileNumber) },
            { requiredKeys: [] },
          ),
        ),
      },
      { requiredKeys: ['rules'] },
    );
    await fc.assert(
      fc.asyncProperty(program, async (body) => {
        outcomes.push((await answersSafely(() => h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(body))).status);
      }),
      { numRuns: 120 },
    );
    expect(outcomes.filter((status) => status === 200).length).toBeGreaterThan(5);
    // Whatever was published last, tracked events still earn (or not) without stalling earning.
    await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM);
    await h.track(tenant, userId, 'Order Completed', { total: 1e300, currency: 'EUR' });
  });

  /** A member's write route, fed hostile member ids, Idempotency-Keys and bodies. */
  async function memberWritesAnswerSafely(route: string, body: fc.Arbitrary<object>): Promise<void> {
    const call = fc.record({
      member: fc.oneof(fc.constant(userId), hostileText),
      key: maybe(fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), fc.constantFrom('has space', 'x'.repeat(256)))),
      body,
    });
    await fc.assert(
      fc.asyncProperty(call, async ({ member, key, body }) => {
        await answersSafely(() => {
          const request = h.rewards
            .http()
            .post(`/t/${tenant.slug}/members/${segment(member)}/${route}`)
            .set(auth(tenant));
          return (key === undefined ? request : request.set('idempotency-key', key)).send(body);
        });
      }),
      { numRuns: 120 },
    );
  }

  test('adjustments, with hostile member ids and keys', () =>
    memberWritesAnswerSafely(
      'adjustments',
      fc.record(
        { points: fc.oneof(hostileNumber, anything), reason: fc.oneof(hostileText, anything), actor: fc.oneof(hostileText, anything) },
        { requiredKeys: [] },
      ),
    ));

  test('redemptions and the reads, with hostile ids, statuses and cursors', async () => {
    const call = fc.record({
      member: fc.oneof(fc.constant(userId), hostileText),
      reward: fc.oneof(fc.constant(rewardId), hostileText, anything),
      query: fc.oneof(hostileText, fc.constantFrom('confirmed', 'declining')),
    });
    await fc.assert(
      fc.asyncProperty(call, async ({ member, reward, query }) => {
        await answersSafely(() =>
          h.rewards
            .http()
            .post(`/t/${tenant.slug}/members/${segment(member)}/redemptions`)
            .set(auth(tenant))
            .set('idempotency-key', randomUUID())
            .send({ rewardId: reward }),
        );
        for (const path of [
          `/t/${tenant.slug}/members/${segment(member)}`,
          `/t/${tenant.slug}/members/${segment(member)}/transactions?cursor=${segment(query)}`,
          `/t/${tenant.slug}/redemptions?status=${segment(query)}`,
          `/t/${tenant.slug}/redemptions?cursor=${segment(query)}`,
          `/t/${tenant.slug}/rewards?cursor=${segment(query)}&limit=${segment(query)}`,
          `/t/${tenant.slug}/rewards/${segment(query)}`,
          `/t/${tenant.slug}/redemptions/${segment(query)}`,
        ])
          await answersSafely(() => h.rewards.http().get(path).set(auth(tenant)));
      }),
      { numRuns: 60 },
    );
  });

  test('catalog management: updates, restocks, activation, codes and the category filter', async () => {
    const coded = (
      await h.rewards
        .http()
        .post(`/t/${tenant.slug}/rewards`)
        .set(auth(tenant))
        .send({ name: 'Coded', cost: 10, stock: 1000, voucher: { kind: 'imported' } })
    ).body.id;
    const outcomes: number[] = [];
    const update = fc.record(
      {
        name: orValid(fc.constantFrom('Mug', 'Tote bag'), fc.oneof(hostileText, anything)),
        cost: orValid(fc.integer({ min: 1, max: BOUNDS.points }), fc.oneof(hostileNumber, anything)),
        perMemberLimit: orValid(fc.integer({ min: 1, max: 10 }), fc.oneof(hostileNumber, fc.constant(null))),
        validFrom: orValid(fc.constant('2020-01-01T00:00:00Z'), fc.oneof(hostileInstant, anything)),
        validUntil: orValid(fc.constant('2999-01-01T00:00:00Z'), fc.oneof(hostileInstant, fc.constant(null))),
        category: orValid(fc.constantFrom('kitchen', null), fc.oneof(hostileText, anything)),
        tiers: orValid(fc.constantFrom(['gold'], null), fc.oneof(fc.array(hostileText, { maxLength: 3 }), anything)),
      },
      { requiredKeys: [] },
    );
    const call = fc.record({
      reward: fc.oneof({ arbitrary: fc.constant(rewardId), weight: 3 }, { arbitrary: fc.constant(coded), weight: 2 }, hostileText),
      update,
      units: orValid(fc.integer({ min: 1, max: 1000 }), fc.oneof(hostileNumber, anything)),
      codes: orValid(
        fc.array(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.oneof(fc.array(fc.oneof(hostileText, anything), { maxLength: 5 }), anything),
      ),
      key: maybe(fc.oneof(fc.uuid(), fc.constantFrom('has space', 'x'.repeat(256)))),
      category: hostileText,
    });
    await fc.assert(
      fc.asyncProperty(call, async ({ reward, update: body, units, codes, key, category }) => {
        const base = `/t/${tenant.slug}/rewards/${segment(reward)}`;
        const keyed = <T extends { set(name: string, value: string): T }>(request: T) =>
          key === undefined ? request : request.set('idempotency-key', key);
        outcomes.push((await answersSafely(() => h.rewards.http().patch(base).set(auth(tenant)).send(body))).status);
        await answersSafely(() => keyed(h.rewards.http().post(`${base}/restocks`).set(auth(tenant))).send({ units }));
        await answersSafely(() => keyed(h.rewards.http().post(`${base}/codes`).set(auth(tenant))).send({ codes }));
        await answersSafely(() => h.rewards.http().post(`${base}/deactivation`).set(auth(tenant)));
        await answersSafely(() => h.rewards.http().post(`${base}/reactivation`).set(auth(tenant)));
        await answersSafely(() =>
          h.rewards
            .http()
            .get(`/t/${tenant.slug}/rewards?category=${segment(category)}`)
            .set(auth(tenant)),
        );
      }),
      { numRuns: 60 },
    );
    expect(outcomes.filter((status) => status === 200).length).toBeGreaterThan(3);
    // Whatever was changed, the reward still answers, and redeeming it still answers safely.
    await h.rewards.http().patch(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant)).send({ tiers: null, validUntil: null });
    await answersSafely(() =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
        .set(auth(tenant))
        .set('idempotency-key', randomUUID())
        .send({ rewardId }),
    );
  });

  test('refunds, with hostile member ids, keys, order ids and amounts', () =>
    memberWritesAnswerSafely(
      'refunds',
      fc.record(
        {
          orderId: orValid(fc.constantFrom('O-1', 'nope'), fc.oneof(hostileText, anything)),
          amount: fc.oneof(hostileNumber, anything),
          cause: fc.oneof(fc.constantFrom('refund', 'return'), hostileText),
        },
        { requiredKeys: [] },
      ),
    ));

  test('a member id of 128 characters (the longest a wallet takes) is addressable; one too long for the router is a 414 problem', async () => {
    const longest = `m${'x'.repeat(127)}`;
    await h.track(tenant, longest, 'Grant', { points: 5 });
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${longest}`).set(auth(tenant))).body.balance).toBe(5);
    const tooLong = await answersSafely(() =>
      h.rewards
        .http()
        .get(`/t/${tenant.slug}/members/${'x'.repeat(5000)}`)
        .set(auth(tenant)),
    );
    expect(tooLong.status).toBe(414);
    const named = await answersSafely(() =>
      h.rewards
        .http()
        .get(`/t/${tenant.slug}/members/${'x'.repeat(600)}`)
        .set(auth(tenant)),
    );
    expect(named).toMatchObject({ status: 400, body: { type: 'https://tessera.dev/problems/invalid-parameter', parameter: 'userId' } });
  });

  test('afterwards the read models, catalog writes and readiness are as before', async () => {
    const created = await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'After', cost: 10, stock: 1 });
    expect(created.status).toBe(201);
    const listed = await h.rewards.http().get(`/t/${tenant.slug}/rewards?limit=500`).set(auth(tenant));
    expect(listed.body.items.map((item: { id: string }) => item.id)).toContain(created.body.id);
    expect((await h.rewards.http().get('/health/ready')).status).toBe(200);
  });
});
