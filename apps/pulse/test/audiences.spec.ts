import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { anyValue, hostileText, mostly } from '../../../test/support/hostile-values';
import { audiencesStreamFor } from '../src/audiences/audience.events';
import { basic, eventually, usePulse, type Tenant } from './pulse-harness';
import { createDestination, OUTBOUND_TEST_ENV } from './destinations-support';
import { WebhookReceiver } from './webhook-receiver';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Computed traits and audiences end to end: defined through the API, evaluated by the profiles
 * projection as messages land, entering and leaving delivered to a webhook receiver on 127.0.0.1.
 */
describe('computed traits and audiences', () => {
  const h = usePulse({ env: { ...OUTBOUND_TEST_ENV, AUDIENCE_SWEEP_INTERVAL_MS: '200' } });
  const receivers: WebhookReceiver[] = [];
  afterAll(async () => {
    for (const each of receivers) await each.close();
  });

  const as = (tenant: Tenant) => ({
    post: (path: string, body: object) =>
      h.pulse.http().post(`/t/${tenant.slug}${path}`).set('authorization', `Bearer ${tenant.apiKey}`).send(body),
    get: (path: string) => h.pulse.http().get(`/t/${tenant.slug}${path}`).set('authorization', `Bearer ${tenant.apiKey}`),
    track: (batch: object[], path = '/v1/batch') =>
      h.pulse.http().post(path).set('authorization', basic(tenant.writeKey)).send({ batch }).expect(200),
  });
  /** A receiver of the tenant's Audience Entered/Exited messages. */
  const audienceReceiver = async (tenant: Tenant, settings: object = {}) => {
    const receiver = await WebhookReceiver.start();
    receivers.push(receiver);
    const created = await createDestination(h.pulse, tenant, {
      name: 'audiences',
      url: receiver.url,
      filters: { events: ['Audience Entered', 'Audience Exited'] },
      ...settings,
    });
    expect(created.status).toBe(201);
    receiver.trust(created.body.secret);
    return receiver;
  };
  const define = async (tenant: Tenant, traits: object[], audiences: object[]) => {
    for (const trait of traits) await as(tenant).post('/computed-traits', trait).expect(201);
    for (const audience of audiences) await as(tenant).post('/audiences', audience).expect(201);
  };
  const order = (who: object, at = new Date(), total = 10) => ({
    type: 'track',
    event: 'Order Completed',
    messageId: randomUUID(),
    timestamp: at.toISOString(),
    properties: { total },
    ...who,
  });

  test('a profile crossing the threshold enters: the Audience Entered message reaches the receiver, the profile and the members list show it', async () => {
    const tenant = await h.pulse.createTenant();
    const receiver = await audienceReceiver(tenant);
    await define(
      tenant,
      [
        { key: 'orders_30d', definition: { kind: 'count', event: 'Order Completed', windowDays: 30 } },
        { key: 'spent_30d', definition: { kind: 'sum', event: 'Order Completed', property: 'total', windowDays: 30 } },
        { key: 'first_order', definition: { kind: 'firstSeen', event: 'Order Completed' } },
      ],
      [
        {
          key: 'repeat_pro',
          name: 'Repeat buyers on pro',
          rule: {
            and: [
              { computed: 'orders_30d', op: 'gte', value: 2 },
              { trait: 'plan', op: 'eq', value: 'pro' },
            ],
          },
        },
      ],
    );
    const userId = `u-${randomUUID()}`;
    await as(tenant).track([
      { type: 'identify', userId, traits: { plan: 'pro' }, messageId: randomUUID() },
      order({ userId }, new Date(), 30),
    ]);
    await h.pulse.profilesCaughtUp();
    expect((await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body).toMatchObject({
      computedTraits: { orders_30d: 1, spent_30d: 30 },
      audiences: [],
    });
    await as(tenant).track([order({ userId }, new Date(), 12)]);

    await receiver.until(() => receiver.delivered().length >= 1);
    expect(receiver.delivered()).toMatchObject([
      {
        type: 'track',
        event: 'Audience Entered',
        userId,
        properties: { audience_key: 'repeat_pro', audience_name: 'Repeat buyers on pro' },
      },
    ]);
    expect(receiver.received[0]!.verifiedWith).toHaveLength(1);
    const profile = (await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body;
    expect(profile).toMatchObject({ computedTraits: { orders_30d: 2, spent_30d: 42 }, audiences: ['repeat_pro'] });
    expect(profile.computedTraits.first_order).toEqual(expect.stringMatching(/^\d{4}-/));
    const members = await as(tenant).get('/audiences/repeat_pro/members?limit=1').expect(200);
    expect(members.body).toEqual({ members: [{ profileId: profile.profileId, userId, enteredAt: expect.any(String) }], nextCursor: null });
    // A third order keeps them in: no second message.
    await as(tenant).track([order({ userId })]);
    await h.pulse.profilesCaughtUp();
    expect(receiver.delivered()).toHaveLength(1);
  });

  test('an audience defined after people were tracked takes them in without waiting for their next event', async () => {
    const tenant = await h.pulse.createTenant();
    const receiver = await audienceReceiver(tenant);
    const [pro, free] = [`pro-${randomUUID()}`, `free-${randomUUID()}`];
    await as(tenant).track([
      { type: 'identify', userId: pro, traits: { plan: 'pro' }, messageId: randomUUID() },
      { type: 'identify', userId: free, traits: { plan: 'free' }, messageId: randomUUID() },
    ]);
    await h.pulse.profilesCaughtUp();
    await define(tenant, [], [{ key: 'pros', name: 'On pro', rule: { trait: 'plan', op: 'eq', value: 'pro' } }]);

    await receiver.until(() => receiver.delivered().length >= 1);
    expect(receiver.delivered()).toMatchObject([{ event: 'Audience Entered', userId: pro, properties: { audience_key: 'pros' } }]);
    const members = await as(tenant).get('/audiences/pros/members').expect(200);
    expect(members.body.members.map((member: { userId: string }) => member.userId)).toEqual([pro]);
    // Filled once: the tenant's backfill is over, and a later event of the other person changes nothing.
    const pool = h.pulse.runtime.infrastructure.pool;
    await eventually(
      async () => (await pool.query('SELECT 1 FROM pulse_audience_backfills WHERE tenant_id = $1', [tenant.id])).rowCount === 0,
    );
    await as(tenant).track([{ type: 'track', userId: free, event: 'Viewed', messageId: randomUUID() }]);
    await h.pulse.profilesCaughtUp();
    expect(receiver.delivered()).toHaveLength(1);
  });

  test('an event falling out of the window makes the profile leave, with Audience Exited', async () => {
    const tenant = await h.pulse.createTenant();
    const receiver = await audienceReceiver(tenant);
    await define(
      tenant,
      [{ key: 'orders_1d', definition: { kind: 'count', event: 'Order Completed', windowDays: 1 } }],
      [{ key: 'recent_buyers', name: 'Bought in the last day', rule: { computed: 'orders_1d', op: 'gte', value: 1 } }],
    );
    const userId = `u-${randomUUID()}`;
    // Inside the one-day window for another eight seconds.
    await as(tenant).track([order({ userId }, new Date(Date.now() - DAY_MS + 8_000))]);
    await receiver.until(() => receiver.delivered().length >= 1);
    expect(receiver.delivered()[0]).toMatchObject({ event: 'Audience Entered', userId });
    await receiver.until(() => receiver.delivered().length >= 2, 30_000);
    expect(receiver.delivered()[1]).toMatchObject({ event: 'Audience Exited', userId, properties: { audience_key: 'recent_buyers' } });
    const profile = (await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body;
    expect(profile).toMatchObject({ computedTraits: { orders_1d: 0 }, audiences: [] });
    expect((await as(tenant).get('/audiences/recent_buyers/members').expect(200)).body.members).toEqual([]);
  });

  test("a tenant whose sweep fails does not hold back another tenant's window exits", async () => {
    const [broken, tenant] = [await h.pulse.createTenant(), await h.pulse.createTenant()];
    const windowed = { key: 'orders_1d', definition: { kind: 'count', event: 'Order Completed', windowDays: 1 } };
    await define(broken, [windowed], []);
    const pool = h.pulse.runtime.infrastructure.pool;
    // A definition the sweep cannot read stands for any failure of one tenant's sweep.
    await eventually(
      async () => (await pool.query('SELECT 1 FROM pulse_audience_definitions WHERE tenant_id = $1', [broken.id])).rowCount === 1,
    );
    await pool.query(
      `UPDATE pulse_audience_definitions SET definition = jsonb_set(definition, '{windowDays}', '"never"') WHERE tenant_id = $1`,
      [broken.id],
    );
    try {
      const receiver = await audienceReceiver(tenant);
      await define(
        tenant,
        [windowed],
        [{ key: 'recent_buyers', name: 'Bought in the last day', rule: { computed: 'orders_1d', op: 'gte', value: 1 } }],
      );
      const userId = `u-${randomUUID()}`;
      await as(tenant).track([order({ userId }, new Date(Date.now() - DAY_MS + 5_000))]);
      await receiver.until(() => receiver.delivered().length >= 2, 30_000);
      expect(receiver.delivered().map((message) => message.event)).toEqual(['Audience Entered', 'Audience Exited']);
    } finally {
      await pool.query(
        `UPDATE pulse_audience_definitions SET definition = jsonb_set(definition, '{windowDays}', '1') WHERE tenant_id = $1`,
        [broken.id],
      );
    }
  });

  test('a merge of two profiles recomputes the traits of the survivor, which enters', async () => {
    const tenant = await h.pulse.createTenant();
    const receiver = await audienceReceiver(tenant);
    await define(
      tenant,
      [{ key: 'orders_30d', definition: { kind: 'count', event: 'Order Completed', windowDays: 30 } }],
      [{ key: 'repeat', name: 'Repeat buyers', rule: { computed: 'orders_30d', op: 'gte', value: 2 } }],
    );
    const userId = `u-${randomUUID()}`;
    const anonymousId = `a-${randomUUID()}`;
    await as(tenant).track([order({ anonymousId }), order({ userId })]);
    await h.pulse.profilesCaughtUp();
    expect((await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body).toMatchObject({
      computedTraits: { orders_30d: 1 },
      audiences: [],
    });
    expect(receiver.delivered()).toEqual([]);

    await as(tenant).track([{ type: 'identify', userId, anonymousId, messageId: randomUUID() }]);
    await receiver.until(() => receiver.delivered().length >= 1);
    expect(receiver.delivered()).toMatchObject([{ event: 'Audience Entered', userId, properties: { audience_key: 'repeat' } }]);
    const survivor = (await as(tenant).get(`/profiles/anonymousId/${anonymousId}`).expect(200)).body;
    expect(survivor).toMatchObject({ userId, computedTraits: { orders_30d: 2 }, audiences: ['repeat'] });
    const members = (await as(tenant).get('/audiences/repeat/members').expect(200)).body.members;
    expect(members.map((member: { profileId: string }) => member.profileId)).toEqual([survivor.profileId]);
  });

  test("a last value is the one of the latest event by event time, also among one batch's messages sent out of order", async () => {
    const tenant = await h.pulse.createTenant();
    const receiver = await audienceReceiver(tenant);
    await define(
      tenant,
      [{ key: 'last_plan', definition: { kind: 'last', event: 'Plan Chosen', property: 'plan' } }],
      [{ key: 'on_pro', name: 'On pro', rule: { computed: 'last_plan', op: 'eq', value: 'pro' } }],
    );
    const userId = `u-${randomUUID()}`;
    const chosen = (plan: string, at: number) => ({
      type: 'track',
      event: 'Plan Chosen',
      userId,
      messageId: randomUUID(),
      timestamp: new Date(at).toISOString(),
      properties: { plan },
    });
    const now = Date.now();
    // One batch, so one transaction: the latest choice (pro) comes first in the log.
    await as(tenant).track([chosen('pro', now - 1_000), chosen('free', now - 60_000), chosen('team', now - 30_000)]);
    await receiver.until(() => receiver.delivered().length >= 1);
    expect(receiver.delivered()).toMatchObject([{ event: 'Audience Entered', userId, properties: { audience_key: 'on_pro' } }]);
    expect((await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body).toMatchObject({
      computedTraits: { last_plan: 'pro' },
      audiences: ['on_pro'],
    });
    // An older choice sent later changes nothing; a newer one does, and the profile leaves.
    await as(tenant).track([chosen('free', now - 10_000)]);
    await h.pulse.profilesCaughtUp();
    expect((await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body).toMatchObject({ computedTraits: { last_plan: 'pro' } });
    await as(tenant).track([chosen('free', now)]);
    await receiver.until(() => receiver.delivered().length >= 2);
    expect(receiver.delivered()[1]).toMatchObject({ event: 'Audience Exited', userId, properties: { audience_key: 'on_pro' } });
  });

  test('history sent to /v1/import enters profiles as history: a destination without historical does not receive it, one with it does', async () => {
    const tenant = await h.pulse.createTenant();
    const live = await audienceReceiver(tenant, { ordered: true });
    const history = await audienceReceiver(tenant, { historical: true });
    await define(tenant, [], [{ key: 'vip', name: 'VIP', rule: { trait: 'tier', op: 'eq', value: 'vip' } }]);
    const imported = `u-${randomUUID()}`;
    await as(tenant).track([{ type: 'identify', userId: imported, traits: { tier: 'vip' }, messageId: randomUUID() }], '/v1/import');
    await history.until(() => history.delivered().length >= 1);
    expect(history.delivered()[0]).toMatchObject({ event: 'Audience Entered', userId: imported });
    // A live entry after it reaches the live destination, which never saw the imported one (it delivers in order).
    const lively = `u-${randomUUID()}`;
    await as(tenant).track([{ type: 'identify', userId: lively, traits: { tier: 'vip' }, messageId: randomUUID() }]);
    await live.until(() => live.delivered().length >= 1);
    await eventually(() => history.delivered().length >= 2);
    expect(live.delivered().map((message) => message.userId)).toEqual([lively]);
    const first = (await as(tenant).get('/audiences/vip/members?limit=1').expect(200)).body;
    expect(first.members).toHaveLength(1);
    expect(first.nextCursor).toBe(first.members[0].profileId);
    const second = (await as(tenant).get(`/audiences/vip/members?limit=1&cursor=${first.nextCursor}`).expect(200)).body;
    expect(second.members).toHaveLength(1);
    expect(second.members[0].profileId > first.members[0].profileId).toBe(true);
    expect((await as(tenant).get(`/audiences/vip/members?limit=1&cursor=${second.members[0].profileId}`).expect(200)).body).toEqual({
      members: [],
      nextCursor: null,
    });
    expect([first.members[0].userId, second.members[0].userId].sort()).toEqual([imported, lively].sort());
    // Pages are bounded, cursors are ours, and another tenant's key reads nothing of this one.
    await as(tenant).get('/audiences/vip/members?limit=201').expect(400);
    await as(tenant).get('/audiences/vip/members?cursor=1%27%20OR%201=1').expect(400);
    const other = await h.pulse.createTenant();
    await h.pulse.http().get(`/t/${tenant.slug}/audiences/vip/members`).set('authorization', `Bearer ${other.apiKey}`).expect(403);
  });

  test('an audience whose rule does not parse or reads an unknown computed trait is refused naming the field', async () => {
    const tenant = await h.pulse.createTenant();
    await define(tenant, [{ key: 'orders', definition: { kind: 'count', event: 'Order Completed', windowDays: 7 } }], []);
    const unknown = await as(tenant).post('/audiences', {
      key: 'a',
      name: 'A',
      rule: {
        or: [
          { computed: 'orders', op: 'gt', value: 1 },
          { computed: 'nope', op: 'exists' },
        ],
      },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(unknown.body.errors).toEqual([{ pointer: '/rule/or/1/computed', message: expect.stringContaining('nope') }]);
    const unparsed = await as(tenant).post('/audiences', {
      key: 'a',
      name: 'A',
      rule: { and: [{ computed: 'orders', op: '>=', value: 1 }] },
    });
    expect(unparsed.status).toBe(400);
    expect(unparsed.body.errors).toEqual([{ pointer: '/rule/and/0/op', message: expect.any(String) }]);
    const window = await as(tenant).post('/computed-traits', { key: 'long', definition: { kind: 'count', event: 'X', windowDays: 3650 } });
    expect(window.status).toBe(400);
    expect(window.body.errors[0].pointer).toBe('/definition/windowDays');
    expect((await as(tenant).get('/audiences').expect(200)).body).toEqual({ audiences: [] });
  });

  test('hostile audience bodies are refused with a problem naming a field, and nothing of them is stored', async () => {
    const tenant = await h.pulse.createTenant();
    await define(tenant, [{ key: 'orders', definition: { kind: 'count', event: 'Order Completed', windowDays: 7 } }], []);
    const comparison = fc.record({
      [`computed`]: fc.constantFrom('orders', 'nope'),
      op: fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between'),
      value: mostly(fc.oneof(fc.integer(), fc.constantFrom('pro', 'x')), anyValue()),
    });
    const rule = fc.letrec<{ rule: unknown }>((tie) => ({
      rule: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        comparison,
        fc.record({ trait: hostileText(['plan']), op: fc.constantFrom('exists', 'missing') }),
        fc.record({ and: fc.array(tie('rule'), { maxLength: 4 }) }),
        fc.record({ or: fc.array(tie('rule'), { maxLength: 4 }) }),
        fc.record({ not: tie('rule') }),
        anyValue(),
      ),
    })).rule;
    const body = fc.record(
      {
        key: mostly(fc.constantFrom('vip', 'big_spenders'), hostileText()),
        name: mostly(fc.constant('VIP'), anyValue()),
        rule,
        extra: anyValue(),
      },
      { requiredKeys: ['rule'] },
    );
    // A body valid all through is rare among the hostile ones (an `extra` key alone refuses it): a
    // quarter of the bodies are valid, so the accepted path and its clean-up are always exercised.
    const valid = fc.record({
      key: fc.constantFrom('vip', 'big_spenders'),
      name: fc.constant('VIP'),
      rule: fc.record({ computed: fc.constant('orders'), op: fc.constantFrom('gte', 'lt'), value: fc.integer({ min: 0, max: 10 }) }),
    });
    let created = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: valid }, { weight: 3, arbitrary: body }), async (sent) => {
        const response = await as(tenant).post('/audiences', sent as object);
        if (response.status === 201) {
          created++;
          await h.pulse
            .http()
            .delete(`/t/${tenant.slug}/audiences/${response.body.key}`)
            .set('authorization', `Bearer ${tenant.apiKey}`)
            .expect(204);
          return;
        }
        expect(response.status).toBe(400);
        expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(response.body.errors[0].pointer).toMatch(/^(\/|$)/);
        refused++;
      }),
      { numRuns: Number(process.env.HOSTILE_RUNS ?? 150) },
    );
    expect(refused).toBeGreaterThan(0);
    expect(created).toBeGreaterThan(0);
    const stored = await h.pulse.runtime.store.readStream(audiencesStreamFor(tenant.id));
    expect(stored.filter((event) => event.type === 'AudienceDefined')).toHaveLength(created);
    expect((await as(tenant).get('/audiences').expect(200)).body).toEqual({ audiences: [] });
  });

  test('erasing a person through register removes their computed traits and memberships with their profile', async () => {
    const tenant = await h.pulse.createTenant();
    await define(
      tenant,
      [
        { key: 'last_item', definition: { kind: 'last', event: 'Bought', property: 'item' } },
        { key: 'bought_30d', definition: { kind: 'count', event: 'Bought', windowDays: 30 } },
      ],
      [{ key: 'buyers', name: 'Buyers', rule: { computed: 'last_item', op: 'eq', value: 'book' } }],
    );
    const { id: userId } = await h.pulse.register.signUp(tenant.slug, `erase-${randomUUID()}@example.com`);
    await as(tenant).track([{ type: 'track', userId, event: 'Bought', properties: { item: 'book' }, messageId: randomUUID() }]);
    await eventually(async () => (await as(tenant).get('/audiences/buyers/members').expect(200)).body.members.length === 1);
    expect((await as(tenant).get(`/profiles/userId/${userId}`).expect(200)).body.computedTraits).toEqual({
      last_item: 'book',
      bought_30d: 1,
    });

    await h.pulse.register.http().delete(`/t/${tenant.slug}/users/${userId}`).set('authorization', `Bearer ${tenant.apiKey}`).expect(204);
    await eventually(async () => (await as(tenant).get(`/profiles/userId/${userId}`)).status === 404);
    expect((await as(tenant).get('/audiences/buyers/members').expect(200)).body.members).toEqual([]);
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(
      `SELECT (SELECT count(*) FROM pulse_trait_points WHERE tenant_id = $1)::int AS points,
              (SELECT count(*) FROM pulse_trait_values WHERE tenant_id = $1)::int AS "values",
              (SELECT count(*) FROM pulse_audience_members WHERE tenant_id = $1)::int AS members`,
      [tenant.id],
    );
    expect(rows[0]).toEqual({ points: 0, values: 0, members: 0 });
  });
});
