import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { accountStreamFor, trackingStreamFor, trackReceived, UserErased } from '#contracts';
import { CatalogHandler } from '../src/catalog/catalog.handler';
import { RedemptionRequested } from '../src/redemption/redemption.events';
import { RedemptionHandler } from '../src/redemption/redemption.handler';
import { redemptionStreamFor, walletStreamFor } from '../src/rewards.streams';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/**
 * Register erases a person (GDPR): rewards forgets what it holds about them. Its read models drop
 * the member's rows, the wallet's history stays only as amounts and dates (the sealed adjustment
 * reason is shredded), and the member earns, spends and shows nothing any more.
 */
describe('erasure', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(() => h.close());

  const http = () => h.rewards.http();
  const store = () => h.rewards.runtime.infrastructure.eventStore;
  const query = (sql: string, values: unknown[] = []) => h.rewards.runtime.infrastructure.pool.query(sql, values);

  /** Appends UserErased as register's erasure handler does, and waits until rewards has applied it everywhere. */
  async function erase(userId: string): Promise<void> {
    const codec = h.register.runtime.infrastructure.codec;
    const now = new Date();
    const event = await codec.encode(UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'tenant' }), {
      tenantId: tenant.id,
      correlationId: randomUUID(),
      now,
    });
    const { position } = await store().appendToStream(accountStreamFor(tenant.id, userId), [event], { expectedRevision: 'any' });
    await h.rewards.earning.waitFor(position);
    const wallet = await store().readStream(walletStreamFor(tenant.id, userId));
    await h.rewards.app.get(ProjectionRunner).waitFor(wallet[wallet.length - 1]!.position);
  }

  /** Every row of every rewards table, as text, that mentions `text`. */
  async function rowsMentioning(text: string): Promise<string[]> {
    const tables = await query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'rewards\\_%'");
    expect(tables.rows.map((row: { tablename: string }) => row.tablename)).toEqual(
      expect.arrayContaining(['rewards_lots', 'rewards_members', 'rewards_redemptions', 'rewards_transactions']),
    );
    const found: string[] = [];
    for (const { tablename } of tables.rows as { tablename: string }[]) {
      const rows = await query(`SELECT row_to_json(t)::text AS row FROM ${tablename} t WHERE row_to_json(t)::text LIKE $1`, [`%${text}%`]);
      found.push(...rows.rows.map((row: { row: string }) => `${tablename}: ${row.row}`));
    }
    return found;
  }

  test("an erased member is gone from rewards' API and tables, their history kept without personal data, and earns nothing more", async () => {
    const userId = await h.signUp(tenant);
    await h.track(tenant, userId, 'Grant', { points: 300 });
    const adjusted = await http()
      .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
      .set(auth(tenant))
      .set('idempotency-key', 'goodwill')
      .send({ points: 20, reason: 'parcel lost at Main Street 4', actor: 'agent-7' });
    expect(adjusted.status).toBe(201);
    const rewardId = (await http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 100, stock: 5 })).body.id;
    const redeemed = await http()
      .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId });
    expect(redeemed.status).toBe(201);
    // Before: the read models hold the member (what the test then expects to disappear).
    await h.rewards.app.get(ProjectionRunner).waitFor((await store().readStream(walletStreamFor(tenant.id, userId))).at(-1)!.position);
    expect(await rowsMentioning(userId)).not.toEqual([]);
    // The finance export's rows hold the member and the adjustment's reason: both go with the erasure.
    expect((await rowsMentioning('parcel lost at Main Street 4')).map((row) => row.split(':')[0])).toEqual(['rewards_transactions']);

    // Accepted by pulse (sealed) just before the erasure, stored after it: pulse drops what arrives later.
    const late = await h.sealTrack(tenant, userId, 'Grant', { points: 50 });
    await erase(userId);

    for (const path of [`/t/${tenant.slug}/members/${userId}`, `/t/${tenant.slug}/members/${userId}/transactions`]) {
      const response = await http().get(path).set(auth(tenant));
      expect(response.status).toBe(404);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    const again = await http()
      .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId });
    expect(again.status).toBe(404);
    const adjustAgain = await http()
      .post(`/t/${tenant.slug}/members/${userId}/adjustments`)
      .set(auth(tenant))
      .send({ points: 5, reason: 'x', actor: 'agent-7' });
    expect(adjustAgain.status).toBe(404);

    expect(await rowsMentioning(userId)).toEqual([]);
    expect(await rowsMentioning('parcel lost at Main Street 4')).toEqual([]);
    // The redemption stays for the stock and the admin view, without saying whose it was.
    const redemption = (await http().get(`/t/${tenant.slug}/redemptions`).set(auth(tenant))).body.items.find(
      (item: { id: string }) => item.id === redeemed.body.id,
    );
    expect(redemption).toMatchObject({ userId: null, rewardId, status: 'confirmed' });

    // The history keeps amounts and dates; the adjustment's reason can no longer be opened.
    const history = await store().readStream(walletStreamFor(tenant.id, userId));
    const codec = h.rewards.runtime.infrastructure.codec;
    const decoded = await Promise.all(history.map((event) => codec.decode(event)));
    expect(decoded.map((envelope) => envelope.event.type)).toEqual([
      'MemberEnrolled',
      'PointsEarned',
      'TierChanged',
      'PointsEarned',
      'TierChanged',
      'PointsAdjusted',
      'PointsRedeemed',
      'MemberErased',
    ]);
    const adjustment = decoded.find((envelope) => envelope.event.type === 'PointsAdjusted')!;
    expect(adjustment.erased).toBe(true);
    expect(adjustment.event.data).toMatchObject({ points: 20, reason: null });
    const key = await query('SELECT wrapped_key FROM personal_data_keys WHERE tenant_id = $1 AND subject_id = $2', [tenant.id, userId]);
    expect(key.rows).toEqual([{ wrapped_key: null }]);

    // Further tracked events for the person earn nothing and do not bring the wallet back.
    await h.appendTracked(tenant, [late]);
    expect((await store().readStream(walletStreamFor(tenant.id, userId))).length).toBe(history.length);
    expect((await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).status).toBe(404);
    expect(await rowsMentioning(userId)).toEqual([]);
  });

  test('a person erased before rewards ever saw them never becomes a member', async () => {
    const userId = `ghost-${randomUUID()}`;
    const late = await h.sealTrack(tenant, userId, 'Grant', { points: 50 });
    await erase(userId);
    await h.appendTracked(tenant, [late]);
    expect((await http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).status).toBe(404);
    expect(await rowsMentioning(userId)).toEqual([]);
  });

  test('events tracked before the erasure earn, those after it do not, in log order within one batch', async () => {
    const userId = `batch-${randomUUID()}`;
    await h.rewards.earning.stop();
    const codec = h.register.runtime.infrastructure.codec;
    const now = new Date();
    const context = { tenantId: tenant.id, correlationId: 'c', now };
    const track = (points: number) =>
      h.rewards.runtime.infrastructure.codec.encode(
        trackReceived({ userId, event: 'Grant', properties: { points }, messageId: randomUUID(), at: now }),
        context,
      );
    await store().appendToStream(trackingStreamFor(tenant.id, 0), [await track(10)], { expectedRevision: 'any' });
    await store().appendToStream(
      accountStreamFor(tenant.id, userId),
      [
        await codec.encode(UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'user' }), {
          tenantId: tenant.id,
          correlationId: 'c',
          now,
        }),
      ],
      { expectedRevision: 'any' },
    );
    const { position } = await store().appendToStream(trackingStreamFor(tenant.id, 0), [await track(20)], { expectedRevision: 'any' });
    h.rewards.earning.start();
    await h.rewards.earning.waitFor(position);
    const history = await store().readStream(walletStreamFor(tenant.id, userId));
    expect(history.map((event) => event.type)).toEqual(['MemberEnrolled', 'PointsEarned', 'TierChanged', 'MemberErased']);
    expect(history[1]!.data).toMatchObject({ points: 10 });
  });
  /**
   * The redemption race: a request checks that the member is enrolled, the erasure lands, then the
   * request writes its RedemptionRequested (another stream, so after MemberErased in the log) and
   * carries on (the wallet refuses the debit; the redemption is declined).
   */
  describe('a redemption racing the erasure of its member', () => {
    async function redemptionRequestedAfterErasure(
      userId: string,
      rewardId: string,
      options: { readModelsPaused: boolean },
    ): Promise<string> {
      const readModels = h.rewards.app.get(ProjectionRunner);
      if (options.readModelsPaused) await readModels.stop();
      const now = new Date();
      const context = { tenantId: tenant.id, correlationId: randomUUID(), now };
      const register = h.register.runtime.infrastructure.codec;
      const erased = await store().appendToStream(
        accountStreamFor(tenant.id, userId),
        [await register.encode(UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'user' }), context)],
        { expectedRevision: 'any' },
      );
      await h.rewards.earning.waitFor(erased.position);
      const redemptionId = randomUUID();
      const requested = RedemptionRequested({
        redemptionId,
        userId,
        rewardId,
        cost: 100,
        fingerprint: 'f',
        requestedAt: now.toISOString(),
      });
      await store().appendToStream(
        redemptionStreamFor(tenant.id, redemptionId),
        [await h.rewards.runtime.infrastructure.codec.encode(requested, context)],
        { expectedRevision: 'no_stream' },
      );
      const outcome = await h.rewards.app.get(RedemptionHandler).drive(tenant.id, redemptionId, context);
      expect(outcome).toMatchObject({ ok: false });
      if (options.readModelsPaused) readModels.start();
      await readModels.waitFor((await store().headPosition())!);
      return redemptionId;
    }

    const rowOf = async (redemptionId: string) =>
      (await query('SELECT user_id, status FROM rewards_redemptions WHERE redemption_id = $1', [redemptionId])).rows;

    test.each([
      ['in a later batch than the erasure', false],
      ['in the same batch as the erasure', true],
    ])('requested after the erasure, projected %s: stored without the user id', async (_when, readModelsPaused) => {
      const userId = `race-${randomUUID()}`;
      await h.track(tenant, userId, 'Grant', { points: 300 });
      const rewardId = (await http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 100, stock: 5 })).body
        .id;
      const redemptionId = await redemptionRequestedAfterErasure(userId, rewardId, { readModelsPaused });
      expect(await rowOf(redemptionId)).toEqual([{ user_id: '', status: 'declined' }]);
      expect(await rowsMentioning(userId)).toEqual([]);
    });

    test('requested before the erasure: its row loses the user id when the erasure is projected', async () => {
      const userId = `race-${randomUUID()}`;
      await h.track(tenant, userId, 'Grant', { points: 300 });
      const rewardId = (await http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 100, stock: 5 })).body
        .id;
      const redeemed = await http()
        .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
        .set(auth(tenant))
        .set('idempotency-key', randomUUID())
        .send({ rewardId });
      expect(redeemed.status).toBe(201);
      await erase(userId);
      expect(await rowOf(redeemed.body.id)).toEqual([{ user_id: '', status: 'confirmed' }]);
      expect(await rowsMentioning(userId)).toEqual([]);
    });
  });

  test("an erased member's voucher code is shredded with them: their redemption no longer shows it, and the reward hands out codes as before", async () => {
    const rewardId = (
      await http()
        .post(`/t/${tenant.slug}/rewards`)
        .set(auth(tenant))
        .send({ name: 'Coffee', cost: 10, stock: 10, voucher: { kind: 'generated', prefix: 'ERASE-' } })
    ).body.id;
    const redeem = (userId: string) =>
      http()
        .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
        .set(auth(tenant))
        .set('idempotency-key', randomUUID())
        .send({ rewardId });
    const userId = await h.signUp(tenant);
    await h.track(tenant, userId, 'Grant', { points: 100 });
    const redeemed = await redeem(userId);
    expect(redeemed.body.code).toMatch(/^ERASE-/);
    await erase(userId);
    const shown = await http().get(`/t/${tenant.slug}/redemptions/${redeemed.body.id}`).set(auth(tenant));
    expect(shown.status).toBe(200);
    expect(shown.body.code).toBeNull();
    // A replica folding the reward's stream afresh reads the code as shredded, and goes on handing out others.
    const replica = await h.startReplica();
    expect((await replica.http().get(`/t/${tenant.slug}/redemptions/${redeemed.body.id}`).set(auth(tenant))).body.code).toBeNull();
    const folded = await replica.app.get(CatalogHandler).reward(tenant.id, rewardId);
    expect(folded.issued.get(redeemed.body.id)).toBeNull();
    const other = `m-${randomUUID()}`;
    await h.track(tenant, other, 'Grant', { points: 100 });
    const next = await replica
      .http()
      .post(`/t/${tenant.slug}/members/${other}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId });
    expect(next.status).toBe(201);
    expect(next.body.code).toMatch(/^ERASE-/);
    expect(next.body.code).not.toBe(redeemed.body.code);
  });
});
