import { randomUUID } from 'node:crypto';
import { WebhookReceiver } from '../../../test/support/webhook-receiver';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

/** Rewards events leave through libs/outbound: signed (Standard Webhooks), filtered by type, retried, dead-lettered. */
describe('rewards webhooks', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    h = await startRewards({
      env: {
        OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
        OUTBOUND_RETRY_BASE_MS: '10',
        OUTBOUND_MAX_ATTEMPTS: '2',
        OUTBOUND_BREAKER_COOLDOWN_MS: '10',
      },
    });
    tenant = await h.createTenant();
    expect((await http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    await receiver.close();
    await h.close();
  });

  const http = () => h.rewards.http();
  const createEndpoint = (body: object, as: Tenant = tenant) => http().post(`/t/${as.slug}/webhooks`).set(auth(as)).send(body);
  const ofType = (type: string, userId: string) =>
    receiver.delivered().filter((message) => message.type === type && (message.data as { userId?: string }).userId === userId);

  test('points earned, spent, a tier change and a redemption reach the endpoint, each signed with its secret', async () => {
    const created = await createEndpoint({ url: receiver.url, description: 'CRM' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: receiver.url, description: 'CRM', enabled: true, events: null });
    expect(created.body.secret).toMatch(/^whsec_/);
    receiver.trust(created.body.secret);
    const tiersOnly = await createEndpoint({ url: `${receiver.url}?only=tiers`, events: ['tier.changed'] });
    expect(tiersOnly.status).toBe(201);

    const userId = `w-${randomUUID()}`;
    await h.track(tenant, userId, 'Order Completed', { total: 250, currency: 'EUR' });
    const rewardId = (await http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 100, stock: 5 })).body.id;
    const redeemed = await http()
      .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId });
    expect(redeemed.status).toBe(201);
    expect((await http().post(`/t/${tenant.slug}/redemptions/${redeemed.body.id}/fulfilment`).set(auth(tenant))).status).toBe(200);

    // Deliveries to one endpoint are not ordered (each message is its own request), so wait for all five kinds.
    const expected = ['points.earned', 'points.spent', 'redemption.created', 'redemption.fulfilled', 'tier.changed'];
    await receiver.until(() => expected.every((type) => ofType(type, userId).length > 0) && ofType('tier.changed', userId).length >= 2);
    expect(ofType('points.earned', userId)).toEqual([
      expect.objectContaining({ type: 'points.earned', data: expect.objectContaining({ userId, points: 250, ruleId: 'order' }) }),
    ]);
    expect(ofType('points.spent', userId)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ points: 100, redemptionId: redeemed.body.id, rewardId }) }),
    ]);
    expect(ofType('redemption.created', userId)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ redemptionId: redeemed.body.id, rewardId, cost: 100 }) }),
    ]);
    expect(ofType('tier.changed', userId)).toHaveLength(2);
    expect(ofType('tier.changed', userId)[0]).toMatchObject({ data: { from: null, to: 'silver', reason: 'upgrade' } });

    // The first endpoint's requests verify with its secret (the reference library); the second's
    // (signed with another) do not, and are the tier changes alone.
    const [first, second] = [created.body.secret, 'other'].map((which) =>
      receiver.received.filter((each) => (which === 'other' ? each.verifiedWith.length === 0 : each.verifiedWith.includes(which))),
    );
    expect(new Set(first!.map((each) => each.json.type))).toEqual(
      new Set(['points.earned', 'tier.changed', 'points.spent', 'redemption.created', 'redemption.fulfilled']),
    );
    expect(second!.map((each) => each.json.type)).toEqual(['tier.changed']);
    // A message is one event: its id is the event's, the same on every endpoint.
    const tierIds = ofType('tier.changed', userId).map((message) => message.id);
    expect(new Set(tierIds).size).toBe(1);
  });

  test('a receiver that keeps failing gets retried, then a dead letter the tenant can retry', async () => {
    const other = await h.createTenant();
    expect((await http().put(`/t/${other.slug}/program`).set(auth(other)).send(PROGRAM)).status).toBe(200);
    const failing = await WebhookReceiver.start();
    try {
      failing.answerWith(() => ({ status: 500 }));
      const endpoint = (await createEndpoint({ url: failing.url, events: ['points.earned'] }, other)).body;
      failing.trust(endpoint.secret);
      const userId = `d-${randomUUID()}`;
      await h.track(other, userId, 'Grant', { points: 7 });
      const deadLetters = async () =>
        (await http().get(`/t/${other.slug}/webhooks/${endpoint.id}/dead-letters`).set(auth(other))).body.items;
      await until(async () => (await deadLetters()).length === 1);
      expect(failing.received).toHaveLength(2);
      expect(new Set(failing.received.map((each) => each.webhookId)).size).toBe(1);

      failing.answerWith(() => ({ status: 200 }));
      const [dead] = await deadLetters();
      const retried = await http().post(`/t/${other.slug}/webhooks/${endpoint.id}/dead-letters/${dead.id}/retry`).set(auth(other));
      expect(retried.status).toBe(202);
      await failing.until(() => failing.delivered().length === 1);
      expect(failing.delivered()[0]).toMatchObject({ type: 'points.earned', data: { userId, points: 7 } });
      expect(failing.received.at(-1)!.verifiedWith).toEqual([endpoint.secret]);
      expect(await deadLetters()).toEqual([]);
    } finally {
      await failing.close();
    }
  });

  test('bad settings are a 400 naming the field, and create nothing; a deleted endpoint is gone', async () => {
    const fresh = await h.createTenant();
    const notPublic = await createEndpoint({ url: 'http://10.0.0.1/hook' }, fresh);
    expect(notPublic.status).toBe(400);
    expect(notPublic.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(notPublic.body.errors).toEqual([expect.objectContaining({ pointer: '/url' })]);
    const unknownType = await createEndpoint({ url: receiver.url, events: ['points.stolen'] }, fresh);
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.errors).toEqual([expect.objectContaining({ pointer: '/events/0' })]);
    const extra = await createEndpoint({ url: receiver.url, secret: 'whsec_mine' }, fresh);
    expect(extra.status).toBe(400);
    expect((await http().get(`/t/${fresh.slug}/webhooks`).set(auth(fresh))).body.items).toEqual([]);

    const created = (await createEndpoint({ url: receiver.url }, fresh)).body;
    const patched = await http().patch(`/t/${fresh.slug}/webhooks/${created.id}`).set(auth(fresh)).send({ enabled: 'no' });
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual([expect.objectContaining({ pointer: '/enabled' })]);
    // Another tenant's key does not reach it.
    expect((await http().get(`/t/${fresh.slug}/webhooks/${created.id}`).set(auth(tenant))).status).toBe(403);
    expect((await http().get(`/t/${tenant.slug}/webhooks/${created.id}`).set(auth(tenant))).status).toBe(404);
    const rotated = await http()
      .post(`/t/${fresh.slug}/webhooks/${created.id}/secret-rotations`)
      .set(auth(fresh))
      .send({ graceSeconds: 60 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.secret).not.toBe(created.secret);
    expect((await http().delete(`/t/${fresh.slug}/webhooks/${created.id}`).set(auth(fresh))).status).toBe(204);
    expect((await http().get(`/t/${fresh.slug}/webhooks/${created.id}`).set(auth(fresh))).status).toBe(404);
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
