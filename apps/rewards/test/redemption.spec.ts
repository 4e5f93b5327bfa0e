import { eventually } from '#platform/testing';
import { createHash, randomUUID } from 'node:crypto';
import { CommandRunner } from '#cqrs';
import { redemptionDecider, type RedemptionCommand } from '../src/redemption/redemption.decider';
import { redemptionIdFor } from '../src/redemption/redemption.handler';
import { RedemptionRecovery } from '../src/redemption/redemption.recovery';
import { redemptionStreamFor, rewardStreamFor } from '../src/rewards.streams';
import { WalletHandler } from '../src/wallet/wallet.handler';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Redemptions never overdraw a wallet nor oversell a reward, however many race; keys make them idempotent. */
describe('redemptions', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM);
  });
  afterAll(() => h.close());

  async function reward(terms: object = {}): Promise<string> {
    const response = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/rewards`)
      .set(auth(tenant))
      .send({ name: 'Mug', cost: 100, stock: 1000, ...terms });
    expect(response.status).toBe(201);
    return response.body.id;
  }
  async function memberWith(points: number): Promise<string> {
    const userId = `m-${randomUUID()}`;
    await h.track(tenant, userId, 'Grant', { points });
    return userId;
  }
  const redeem = (userId: string, rewardId: string, key: string = randomUUID()) =>
    h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', key)
      .send({ rewardId });
  const balance = async (userId: string) =>
    (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance;
  const remaining = async (rewardId: string) =>
    (await h.rewards.http().get(`/t/${tenant.slug}/rewards/${rewardId}`).set(auth(tenant))).body.remaining;

  test('50 parallel redemptions against a balance that covers 10: exactly 10 succeed, the balance ends at 0', async () => {
    const rewardId = await reward();
    const userId = await memberWith(1000);
    const responses = await Promise.all(Array.from({ length: 50 }, () => redeem(userId, rewardId)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    for (const refused of responses.filter((r) => r.status === 409))
      expect(refused.body.type).toBe('https://tessera.dev/problems/insufficient-points');
    expect(await balance(userId)).toBe(0);
    expect(await remaining(rewardId)).toBe(990);
  });

  test('the same race split over two replicas (no shared memory, only the stream revisions) still gives exactly 10', async () => {
    const replica = await h.startReplica();
    const rewardId = await reward({ stock: 20 });
    const userId = await memberWith(1000);
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (i % 2 === 0 ? h.rewards.http() : replica.http())
          .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
          .set(auth(tenant))
          .set('idempotency-key', randomUUID())
          .send({ rewardId }),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(10);
    expect(responses.filter((r) => r.status >= 500)).toHaveLength(0);
    expect(await balance(userId)).toBe(0);
    expect(await remaining(rewardId)).toBe(10);
  });

  test('50 members racing for a reward with stock 5: exactly 5 succeed, nobody pays for what they did not get', async () => {
    const rewardId = await reward({ stock: 5 });
    const members = await Promise.all(Array.from({ length: 50 }, () => memberWith(100)));
    const responses = await Promise.all(members.map((userId) => redeem(userId, rewardId)));
    expect(responses.filter((r) => r.status === 201)).toHaveLength(5);
    expect(responses.filter((r) => r.status === 409 && r.body.type === 'https://tessera.dev/problems/out-of-stock')).toHaveLength(45);
    const balances = await Promise.all(members.map(balance));
    expect(balances.filter((b) => b === 0)).toHaveLength(5);
    expect(balances.filter((b) => b === 100)).toHaveLength(45);
    expect(await remaining(rewardId)).toBe(0);
  });

  test('a member racing many redemptions with points for one unit holds no stock it cannot pay for: every honest buyer gets a unit', async () => {
    const honest = 5;
    const rewardId = await reward({ stock: honest + 1 });
    const racer = await memberWith(100);
    const buyers = await Promise.all(Array.from({ length: honest }, () => memberWith(100)));
    // The racer's requests go out first, the honest ones while they are in flight.
    const racing = Array.from({ length: 40 }, () => redeem(racer, rewardId));
    const buying = buyers.map((userId) => redeem(userId, rewardId));
    const [raced, bought] = [await Promise.all(racing), await Promise.all(buying)];
    expect(bought.map((r) => r.status)).toEqual(buyers.map(() => 201));
    expect(raced.filter((r) => r.status === 201)).toHaveLength(1);
    for (const refused of raced.filter((r) => r.status !== 201)) {
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('https://tessera.dev/problems/insufficient-points');
    }
    expect(await remaining(rewardId)).toBe(0);
    expect(await Promise.all([racer, ...buyers].map(balance))).toEqual([racer, ...buyers].map(() => 0));
    // Never oversold: as many units held as redemptions confirmed, each once.
    const reserved = await h.rewards.runtime.infrastructure.pool.query<{ id: string; n: string }>(
      `SELECT data->>'redemptionId' AS id, count(*) AS n FROM es_events WHERE type = 'StockReserved' AND stream_name = $1 GROUP BY 1`,
      [rewardStreamFor(tenant.id, rewardId)],
    );
    expect(reserved.rows.map((row) => Number(row.n))).toEqual(Array.from({ length: honest + 1 }, () => 1));
  });

  test('a redemption paid for but refused stock gives the points back and is declined, also after a crash in between', async () => {
    const rewardId = await reward({ stock: 1 });
    const [first, second] = [await memberWith(100), await memberWith(100)];
    expect((await redeem(first, rewardId)).status).toBe(201);
    // Paid, refused stock, crashed before the refund: what the decline leaves until it is finished.
    const redemptionId = redemptionIdFor(tenant.id, second, 'crashed-decline');
    const context = { tenantId: tenant.id, correlationId: 'test', now: new Date() };
    const streams = h.rewards.app.get(CommandRunner);
    const step = (command: RedemptionCommand) =>
      streams.handle({ streamName: redemptionStreamFor(tenant.id, redemptionId), decider: redemptionDecider, command, context });
    const fingerprint = createHash('sha256')
      .update(JSON.stringify({ userId: second, rewardId }))
      .digest('hex');
    await step({ type: 'Request', redemptionId, userId: second, rewardId, cost: 100, fingerprint, now: context.now });
    await h.rewards.app
      .get(WalletHandler)
      .handle({ type: 'Redeem', userId: second, redemptionId, rewardId, points: 100, now: context.now }, context);
    await step({ type: 'StartDecline', reason: 'OutOfStock', now: context.now });
    expect(await balance(second)).toBe(0);
    // The sweep finds it through the read model, once that shows it declining.
    const listed = async () =>
      (await h.rewards.http().get(`/t/${tenant.slug}/redemptions?status=declining&limit=500`).set(auth(tenant))).body.items.some(
        (item: { id: string }) => item.id === redemptionId,
      );
    for (let attempt = 0; attempt < 50 && !(await listed()); attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await listed()).toBe(true);

    let resumed = 0;
    for (let attempt = 0; attempt < 50 && resumed === 0; attempt++) {
      resumed = await h.rewards.app.get(RedemptionRecovery).resumeUnfinished(new Date(), 0);
      if (resumed === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await balance(second)).toBe(100);
    expect((await h.rewards.http().get(`/t/${tenant.slug}/redemptions/${redemptionId}`).set(auth(tenant))).body.status).toBe('declined');
    // The same key again answers the refusal, and changes nothing more.
    const again = await redeem(second, rewardId, 'crashed-decline');
    expect(again.status).toBe(409);
    expect(again.body.type).toBe('https://tessera.dev/problems/out-of-stock');
    expect([await balance(second), await remaining(rewardId)]).toEqual([100, 0]);
  });

  test('the same Idempotency-Key gives the same answer and one effect, even sent concurrently', async () => {
    const rewardId = await reward();
    const userId = await memberWith(250);
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 5 }, () => redeem(userId, rewardId, key)));
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([201]));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(await balance(userId)).toBe(150);
    const later = await redeem(userId, rewardId, key);
    expect(later.body).toEqual(responses[0]!.body);
    expect(await balance(userId)).toBe(150);
    const reused = await redeem(userId, await reward(), key);
    expect(reused.status).toBe(422);
    expect(await balance(userId)).toBe(150);
  });

  test('a refused redemption answers the same refusal when its key is sent again', async () => {
    const rewardId = await reward({ cost: 500 });
    const userId = await memberWith(100);
    const key = randomUUID();
    const first = await redeem(userId, rewardId, key);
    expect(first.status).toBe(409);
    expect(first.body).toMatchObject({ type: 'https://tessera.dev/problems/insufficient-points', available: 100, requested: 500 });
    expect((await redeem(userId, rewardId, key)).status).toBe(409);
  });

  test('cancelling a redemption returns the points and the stock; a cancelled one cannot be fulfilled', async () => {
    const rewardId = await reward({ stock: 1 });
    const userId = await memberWith(100);
    const redeemed = await redeem(userId, rewardId);
    expect(redeemed.body.status).toBe('confirmed');
    expect([await balance(userId), await remaining(rewardId)]).toEqual([0, 0]);
    const cancelled = await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/cancellation`).set(auth(tenant));
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect([await balance(userId), await remaining(rewardId)]).toEqual([100, 1]);
    const again = await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/cancellation`).set(auth(tenant));
    expect(again.status).toBe(200);
    expect(await balance(userId)).toBe(100);
    const fulfil = await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/fulfilment`).set(auth(tenant));
    expect(fulfil.status).toBe(409);
  });

  test('a fulfilled redemption keeps its points and stock, and cannot be cancelled', async () => {
    const rewardId = await reward({ stock: 3 });
    const userId = await memberWith(100);
    const redeemed = await redeem(userId, rewardId);
    const fulfilled = await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/fulfilment`).set(auth(tenant));
    expect(fulfilled.body.status).toBe('fulfilled');
    expect((await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/cancellation`).set(auth(tenant))).status).toBe(
      409,
    );
    expect([await balance(userId), await remaining(rewardId)]).toEqual([0, 2]);
  });

  test('the per-member limit holds', async () => {
    const rewardId = await reward({ cost: 10, perMemberLimit: 2 });
    const userId = await memberWith(100);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await redeem(userId, rewardId)).status);
    expect(statuses).toEqual([201, 201, 409]);
    expect(await balance(userId)).toBe(80);
  });

  test('the admin view lists the catalog', async () => {
    const rewardId = await reward({ name: 'Listed', stock: 7 });
    const userId = await memberWith(100);
    await redeem(userId, rewardId);
    const catalog = await h.rewards.http().get(`/t/${tenant.slug}/rewards?limit=500`).set(auth(tenant));
    expect(catalog.body.items).toContainEqual(expect.objectContaining({ id: rewardId, name: 'Listed', stock: 7 }));
  });

  test('a redemption is in the list as soon as its answer is: confirmed after the 201, cancelled after the cancellation', async () => {
    const rewardId = await reward({ name: 'Read back', stock: 50 });
    const userId = await memberWith(1000);
    // Listed under its status filter, as the admin view asks.
    const listed = async (id: string, status: string) => {
      const page = await h.rewards
        .http()
        .get(`/t/${tenant.slug}/redemptions?userId=${encodeURIComponent(userId)}&status=${status}&limit=500`)
        .set(auth(tenant));
      return page.body.items.find((item: { id: string }) => item.id === id)?.status;
    };
    // Each round reads straight after the write, no waiting: a read model a step behind shows in one of them.
    for (let round = 0; round < 8; round++) {
      const redeemed = await redeem(userId, rewardId);
      expect(redeemed.status).toBe(201);
      expect(await listed(redeemed.body.id, 'confirmed')).toBe('confirmed');
      const cancelled = await h.rewards.http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/cancellation`).set(auth(tenant));
      expect(cancelled.status).toBe(200);
      expect(await listed(redeemed.body.id, 'cancelled')).toBe('cancelled');
    }
  });

  test("the redemptions list filters by member: one member's redemptions, none of another's", async () => {
    const rewardId = await reward({ name: 'Per member', stock: 10 });
    const [ada, bob] = [await memberWith(100), await memberWith(100)];
    const ours = [(await redeem(ada, rewardId)).body.id, (await redeem(ada, rewardId)).body.id];
    await redeem(bob, rewardId);
    const list = (userId: string) =>
      h.rewards
        .http()
        .get(`/t/${tenant.slug}/redemptions?userId=${encodeURIComponent(userId)}&limit=500`)
        .set(auth(tenant));
    await eventually(async () => expect((await list(ada)).body.items.map((item: { id: string }) => item.id).sort()).toEqual(ours.sort()));
    await eventually(async () => expect((await list(bob)).body.items.map((item: { userId: string }) => item.userId)).toEqual([bob]));
    const refused = await list('a\u0000b');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('userId');
  });

  test('a redemption left half-done by a crash is finished by the recovery sweep', async () => {
    const rewardId = await reward({ stock: 2 });
    const userId = await memberWith(100);
    // What a crash right after the intent was recorded leaves behind: the request, nothing else.
    const redemptionId = redemptionIdFor(tenant.id, userId, 'crashed');
    const context = { tenantId: tenant.id, correlationId: 'test', now: new Date() };
    await h.rewards.app.get(CommandRunner).handle({
      streamName: redemptionStreamFor(tenant.id, redemptionId),
      decider: redemptionDecider,
      command: { type: 'Request', redemptionId, userId, rewardId, cost: 100, fingerprint: 'f', now: context.now },
      context,
    });
    let resumed = 0;
    for (let attempt = 0; attempt < 50 && resumed === 0; attempt++) {
      resumed = await h.rewards.app.get(RedemptionRecovery).resumeUnfinished(new Date(), 0);
      if (resumed === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(resumed).toBe(1);
    const shown = await h.rewards.http().get(`/t/${tenant.slug}/redemptions/${redemptionId}`).set(auth(tenant));
    expect(shown.body.status).toBe('confirmed');
    expect([await balance(userId), await remaining(rewardId)]).toEqual([0, 1]);
  });
});
