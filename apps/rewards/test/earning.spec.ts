import { randomUUID } from 'node:crypto';
import { MessageReceived, trackingStreamFor } from '#contracts';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Tracked events and sign-ups turn into points through the earning subscription, each exactly once. */
describe('earning from events', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    const published = await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM);
    expect(published.status).toBe(200);
    expect(published.body.version).toBe(1);
  });
  afterAll(() => h.close());

  const member = (userId: string) => h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));

  test('signing up in register earns the sign-up points and the first tier', async () => {
    const userId = await h.signUp(tenant);
    const response = await member(userId);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      userId,
      balance: 50,
      tier: 'bronze',
      progress: { pointsInPeriod: 50, nextTier: { name: 'silver', pointsNeeded: 150 } },
    });
    expect(response.body.lots).toEqual([
      { lotId: `registered:${userId}/signup`, points: 50, earnedAt: expect.any(String), expiresAt: expect.any(String) },
    ]);
  });

  test('an order earns points per euro, and crossing a threshold upgrades the tier at once', async () => {
    const userId = `shopper-${randomUUID()}`;
    await h.track(tenant, userId, 'Order Completed', { total: 250.99, currency: 'EUR' });
    await h.track(tenant, userId, 'Order Completed', { total: 999, currency: 'USD' });
    const response = await member(userId);
    expect(response.body).toMatchObject({ balance: 250, tier: 'silver', progress: { nextTier: { name: 'gold', pointsNeeded: 750 } } });
  });

  test('a track call as pulse records it (MessageReceived, properties sealed) earns; its other calls do not', async () => {
    const userId = `pulse-${randomUUID()}`;
    const codec = h.rewards.runtime.infrastructure.codec;
    const now = new Date();
    const message = (kind: 'track' | 'page', messageId: string) =>
      MessageReceived({
        kind,
        messageId,
        userId,
        anonymousId: null,
        event: 'Order Completed',
        timestamp: now.toISOString(),
        receivedAt: now.toISOString(),
        properties: { total: 42.5, currency: 'EUR' },
        carriesTraits: false,
        source: { kind: 'server', keyId: 'server' },
        historical: false,
      });
    const context = { tenantId: tenant.id, correlationId: randomUUID(), now };
    const stored = [
      await codec.encode(message('track', randomUUID()), context),
      await codec.encode(message('page', randomUUID()), context),
    ];
    expect(JSON.stringify(stored[0]!.data)).not.toContain('EUR');
    const { position } = await h.rewards.runtime.infrastructure.eventStore.appendToStream(trackingStreamFor(tenant.id, 0), stored, {
      expectedRevision: 'any',
    });
    await h.rewards.earning.waitFor(position);
    expect((await member(userId)).body).toMatchObject({ balance: 42 });
  });

  test('the same tracked event delivered twice earns once', async () => {
    const userId = `dup-${randomUUID()}`;
    const messageId = randomUUID();
    await h.track(tenant, userId, 'Grant', { points: 30 }, messageId);
    await h.track(tenant, userId, 'Grant', { points: 30 }, messageId);
    expect((await member(userId)).body.balance).toBe(30);
  });

  test('an e-mail address as userId earns nothing: it would put personal data in a stream name', async () => {
    const before = await h.storedEvents('rewards.wallet-');
    await h.track(tenant, 'someone@example.com', 'Grant', { points: 10 });
    expect((await member('someone@example.com')).status).toBe(404);
    expect(await h.storedEvents('rewards.wallet-')).toBe(before);
  });

  test('replaying every event after a rebuild (checkpoint lost) changes no balance', async () => {
    const userId = `replay-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 70 });
    const before = await h.storedEvents('rewards.wallet-');
    await h.rewards.earning.stop();
    await h.rewards.runtime.infrastructure.pool.query("DELETE FROM projection_checkpoints WHERE projection = 'rewards.earning'");
    h.rewards.earning.start();
    const last = await h.track(tenant, userId, 'Grant', { points: 1 });
    await h.rewards.earning.waitFor(last);
    expect((await member(userId)).body.balance).toBe(71);
    expect(await h.storedEvents('rewards.wallet-')).toBe(before + 1);
  });

  test('a crash between the wallet writes and the checkpoint neither loses nor doubles points: the batch commits whole or not at all', async () => {
    const members = [1, 2, 3].map((n) => `crash-${n}-${randomUUID()}`);
    const before = await h.storedEvents('rewards.wallet-');
    const { last, lift } = await h.earnThroughFailingCheckpoints(tenant, members);
    expect(await h.storedEvents('rewards.wallet-')).toBe(before);
    await lift();
    await h.rewards.earning.waitFor(last);
    h.rewards.earningProjection.effectListeners.length = 0;
    for (const userId of members) expect((await member(userId)).body.balance).toBe(15);
    // Per member: enrolled, 10 points, the first tier, 5 points. Nothing twice.
    expect(await h.storedEvents('rewards.wallet-')).toBe(before + members.length * 4);
  });

  test('a second replica processing the same events earns nothing twice', async () => {
    const replica = await h.startReplica();
    const userId = `replica-${randomUUID()}`;
    const position = await h.track(tenant, userId, 'Grant', { points: 40 });
    await replica.earning.waitFor(position);
    expect((await member(userId)).body.balance).toBe(40);
    expect((await replica.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance).toBe(40);
  });

  test('transactions list the wallet history, paginated with a cursor', async () => {
    const userId = `history-${randomUUID()}`;
    for (const points of [1, 2, 3]) await h.track(tenant, userId, 'Grant', { points });
    const pages: { type: string; points?: number }[][] = [];
    let cursor = '';
    do {
      const page = await h.rewards
        .http()
        .get(`/t/${tenant.slug}/members/${userId}/transactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
        .set(auth(tenant));
      expect(page.status).toBe(200);
      pages.push(page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    const items = pages.flat();
    expect(items.map((i) => i.type)).toEqual(['MemberEnrolled', 'PointsEarned', 'TierChanged', 'PointsEarned', 'PointsEarned']);
    expect(items.filter((i) => i.type === 'PointsEarned').map((i) => i.points)).toEqual([1, 2, 3]);
  });

  test('an operator adjustment counts once per Idempotency-Key and keeps its reason and actor in the history', async () => {
    const userId = `adjusted-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 10 });
    const adjust = () =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
        .set(auth(tenant))
        .set('idempotency-key', 'goodwill-1')
        .send({ points: 25, reason: 'late parcel', actor: 'agent-7' });
    expect((await adjust()).body).toMatchObject({ points: 25, balance: 35 });
    expect((await adjust()).body).toMatchObject({ balance: 35 });
    const history = await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}/transactions`).set(auth(tenant));
    expect(history.body.items.filter((i: { type: string }) => i.type === 'PointsAdjusted')).toEqual([
      expect.objectContaining({ points: 25, reason: 'late parcel', actor: 'agent-7' }),
    ]);
    const stored = await h.rewards.runtime.infrastructure.pool.query("SELECT data::text FROM es_events WHERE type = 'PointsAdjusted'");
    expect(stored.rows.map((r: { data: string }) => r.data).join()).not.toContain('late parcel');
  });

  test("an adjustment's Idempotency-Key reused with another body is refused (422) and changes nothing; the same body gets the first answer", async () => {
    const userId = `rekeyed-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points: 10 });
    const adjust = (body: object) =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
        .set(auth(tenant))
        .set('idempotency-key', 'rekeyed-1')
        .send(body);
    const first = await adjust({ points: 25, reason: 'late parcel', actor: 'agent-7' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ points: 25, balance: 35 });
    await h.track(tenant, userId, 'Grant', { points: 5 });
    const before = await h.storedEvents('rewards.wallet-');
    for (const other of [
      { points: 40, reason: 'late parcel', actor: 'agent-7' },
      { points: 25, reason: 'wrong size', actor: 'agent-7' },
      { points: 25, reason: 'late parcel', actor: 'agent-8' },
    ]) {
      const refused = await adjust(other);
      expect(refused.status).toBe(422);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.body.type).toBe('https://tessera.dev/problems/idempotency-key-reused');
    }
    expect(await h.storedEvents('rewards.wallet-')).toBe(before);
    expect((await member(userId)).body.balance).toBe(40);
    const again = await adjust({ points: 25, reason: 'late parcel', actor: 'agent-7' });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
  });

  test('a program version another replica applied reaches this one: events tracked after it earn under it here too', async () => {
    const other = await h.createTenant();
    const visit = (points: number) => ({ rules: [{ id: 'visit', event: 'Visited', conditions: [], award: { kind: 'fixed', points } }] });
    const replica = await h.startReplica();
    // This instance learns version 1 while the replica's runner is stopped.
    await replica.earning.stop();
    expect((await h.rewards.http().put(`/t/${other.slug}/program`).set(auth(other)).send(visit(5))).body.version).toBe(1);
    await h.track(other, 'handover', 'Visited');
    // The replica alone applies version 2 (and an event after it).
    await h.rewards.earning.stop();
    replica.earning.start();
    expect((await h.rewards.http().put(`/t/${other.slug}/program`).set(auth(other)).send(visit(7))).body.version).toBe(2);
    await replica.earning.waitFor(await h.trackMany(other, [{ userId: 'handover', event: 'Visited' }]));
    await replica.earning.stop();
    // Back here: the runner resumes from the replica's checkpoint, past version 2.
    h.rewards.earning.start();
    await h.track(other, 'handover', 'Visited');
    expect((await h.rewards.http().get(`/t/${other.slug}/members/handover`).set(auth(other))).body.balance).toBe(5 + 7 + 7);
  });

  test('a new program version applies to events tracked after it', async () => {
    const other = await h.createTenant();
    await h.rewards
      .http()
      .put(`/t/${other.slug}/program`)
      .set(auth(other))
      .send({ rules: [{ id: 'visit', event: 'Visited', conditions: [], award: { kind: 'fixed', points: 5 } }] });
    await h.track(other, 'v1', 'Visited');
    const again = await h.rewards
      .http()
      .put(`/t/${other.slug}/program`)
      .set(auth(other))
      .send({ rules: [{ id: 'visit', event: 'Visited', conditions: [], award: { kind: 'fixed', points: 7 } }] });
    expect(again.body.version).toBe(2);
    await h.track(other, 'v1', 'Visited');
    expect((await h.rewards.http().get(`/t/${other.slug}/members/v1`).set(auth(other))).body.balance).toBe(12);
  });
});
