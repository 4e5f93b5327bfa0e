import { Analytics } from '@segment/analytics-node';
import { randomUUID } from 'node:crypto';
import { usePulse } from './pulse-harness';
import { createDestination, onDestination, OUTBOUND_TEST_ENV, track } from './destinations-support';
import { WebhookReceiver } from './webhook-receiver';

/**
 * Webhook destinations end to end: tracked through the real Segment client and /v1/batch, delivered
 * to a receiver on 127.0.0.1 that checks every signature with the Standard Webhooks reference library.
 */
describe('webhook destinations', () => {
  const h = usePulse({ env: OUTBOUND_TEST_ENV });
  const receivers: WebhookReceiver[] = [];
  const receiver = async () => {
    const started = await WebhookReceiver.start();
    receivers.push(started);
    return started;
  };
  afterAll(async () => {
    for (const each of receivers) await each.close();
  });
  const destinationFor = async (target: WebhookReceiver, settings: object = {}) => {
    const created = await createDestination(h.pulse, h.tenant, { name: 'test', url: target.url, ...settings });
    expect(created.status).toBe(201);
    target.trust(created.body.secret);
    return created.body as { id: string; secret: string };
  };

  test('tracked events from the Segment client and /v1/batch arrive signed, each once, with its own webhook-id', async () => {
    const target = await receiver();
    const created = await destinationFor(target);
    expect(created.secret).toMatch(/^whsec_/);
    const shown = await onDestination(h.pulse, h.tenant, 'get', created.id).expect(200);
    expect(JSON.stringify(shown.body)).not.toContain(created.secret.slice(6));
    expect(shown.body).toMatchObject({ id: created.id, url: target.url, enabled: true, ordered: false });

    const segment = new Analytics({ writeKey: h.tenant.writeKey, host: h.pulse.url, flushAt: 2, maxRetries: 1 });
    segment.track({ userId: 'sdk-user', event: 'Order Completed', properties: { total: 42 } });
    segment.identify({ userId: 'sdk-user', traits: { plan: 'pro' } });
    await segment.closeAndFlush();
    const batch = [track('Viewed'), track('Clicked'), { type: 'page', anonymousId: 'a-1', name: 'Home', messageId: randomUUID() }];
    await h.send(batch);

    await target.until(() => target.delivered().length >= 5);
    const delivered = target.delivered();
    expect(delivered.map((message) => message.type).sort()).toEqual(['identify', 'page', 'track', 'track', 'track']);
    expect(delivered.find((message) => message.event === 'Order Completed')).toMatchObject({
      type: 'track',
      userId: 'sdk-user',
      properties: { total: 42 },
    });
    expect(target.received.every((each) => each.verifiedWith.length === 1)).toBe(true);
    expect(new Set(target.received.map((each) => each.webhookId)).size).toBe(5);
    expect(delivered.filter((message) => batch.some((sent) => sent.messageId === message.messageId))).toHaveLength(3);
  });

  test('a receiver answering 500, then 429 with Retry-After, gets every message once it recovers, under the same webhook-id', async () => {
    const target = await receiver();
    target.answerWith((n) => (n < 3 ? { status: 500 } : n < 5 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await destinationFor(target, { ordered: true });
    const sent = [track('Retry One'), track('Retry Two')];
    await h.send(sent);
    await target.until(() => target.delivered().length >= 2);
    expect(target.delivered().map((message) => message.messageId)).toEqual(sent.map((message) => message.messageId));
    // Every failed attempt was the first message's, retried under its one webhook-id.
    const first = target.received[0]!.webhookId;
    expect(target.received.slice(0, 6).map((each) => each.webhookId)).toEqual(Array(6).fill(first));
    expect(target.received.slice(0, 6).map((each) => each.status)).toEqual([500, 500, 500, 429, 429, 200]);
    expect(target.received.every((each) => each.verifiedWith.length === 1)).toBe(true);
  });

  test('filters pass only the chosen types and events; mappings rename and drop fields; a batch waits until it is full', async () => {
    const target = await receiver();
    await destinationFor(target, {
      filters: { types: ['track'], events: ['Order Completed'] },
      mappings: [{ rename: { from: 'properties.total', to: 'properties.revenue' } }, { drop: 'properties.secretNote' }],
      // Far longer than the test: only a full batch goes out.
      batching: { maxMessages: 3, maxWaitMs: 60_000 },
    });
    const order = (total: number) => track('Order Completed', { properties: { total, secretNote: 'x' } });
    await h.send([order(1), order(2), track('Viewed'), { type: 'identify', userId: 'someone', traits: { a: 1 }, messageId: randomUUID() }]);
    await h.send([order(3)]);
    await target.until(() => target.delivered().length >= 3);
    await h.send([order(4), order(5), order(6), order(7)]);
    await target.until(() => target.delivered().length >= 6);
    expect(target.received.map((each) => (each.json.batch as unknown[]).length)).toEqual([3, 3]);
    expect(target.delivered().map((message) => message.properties)).toEqual([1, 2, 3, 4, 5, 6].map((revenue) => ({ revenue })));
    expect(target.received.every((each) => each.verifiedWith.length === 1)).toBe(true);
  });

  test('after a rotation both secrets verify during the grace period; the new secret alone once it ends', async () => {
    const target = await receiver();
    const created = await destinationFor(target);
    const rotated = await onDestination(h.pulse, h.tenant, 'post', created.id, '/secret-rotations')
      .send({ graceSeconds: 3600 })
      .expect(201);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    target.trust(created.secret, rotated.body.secret);
    await h.send([track('After Rotation')]);
    await target.until(() => target.delivered().length >= 1);
    expect(target.received[0]!.verifiedWith).toEqual([created.secret, rotated.body.secret]);
    expect(String(target.received[0]!.headers['webhook-signature']).split(' ')).toHaveLength(2);

    const again = await onDestination(h.pulse, h.tenant, 'post', created.id, '/secret-rotations').send({ graceSeconds: 0 }).expect(201);
    target.trust(created.secret, rotated.body.secret, again.body.secret);
    const test = await onDestination(h.pulse, h.tenant, 'post', created.id, '/test').expect(200);
    expect(test.body).toMatchObject({ delivered: true, status: 200 });
    expect(target.received[1]!.verifiedWith).toEqual([again.body.secret]);
  });

  test('an answer that will not change (400) is dead-lettered; it can be retried under its webhook-id, or dismissed', async () => {
    const target = await receiver();
    target.answerWith(() => ({ status: 400 }));
    const { id } = await destinationFor(target);
    await h.send([track('Refused One'), track('Refused Two')]);
    let dead: { id: string; webhookId: string; attempts: number; lastStatus: number }[] = [];
    await target.until(() => target.received.length >= 2);
    for (let tries = 0; dead.length < 2 && tries < 100; tries++) {
      dead = (await onDestination(h.pulse, h.tenant, 'get', id, '/dead-letters').expect(200)).body.items;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(dead).toHaveLength(2);
    expect(dead[0]).toMatchObject({ attempts: 1, lastStatus: 400, messages: 1 });
    expect(JSON.stringify(dead)).not.toContain('Refused');

    target.answerWith(() => ({ status: 200 }));
    await onDestination(h.pulse, h.tenant, 'post', id, `/dead-letters/${dead[0]!.id}/retry`).expect(202);
    await onDestination(h.pulse, h.tenant, 'delete', id, `/dead-letters/${dead[1]!.id}`).expect(204);
    await target.until(() => target.delivered().length >= 1);
    expect(target.received.filter((each) => each.status === 200).map((each) => each.webhookId)).toEqual([dead[0]!.webhookId]);
    expect((await onDestination(h.pulse, h.tenant, 'get', id, '/dead-letters').expect(200)).body.items).toEqual([]);
    await onDestination(h.pulse, h.tenant, 'delete', id, `/dead-letters/${dead[1]!.id}`).expect(404);
  });

  test('a destination can be listed, changed, disabled and deleted; a deleted one is gone', async () => {
    const target = await receiver();
    const { id } = await destinationFor(target);
    const changed = await onDestination(h.pulse, h.tenant, 'patch', id).send({ name: 'renamed', enabled: false }).expect(200);
    expect(changed.body).toMatchObject({ id, name: 'renamed', enabled: false });
    let listed: { id: string; name: string }[] = [];
    for (let tries = 0; !listed.some((each) => each.id === id && each.name === 'renamed') && tries < 100; tries++) {
      listed = (await h.pulse.http().get(`/t/${h.tenant.slug}/destinations`).set('authorization', `Bearer ${h.tenant.apiKey}`).expect(200))
        .body.items;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(listed.find((each) => each.id === id)).toMatchObject({ name: 'renamed', enabled: false });
    await onDestination(h.pulse, h.tenant, 'delete', id).expect(204);
    await onDestination(h.pulse, h.tenant, 'get', id).expect(404);
    await onDestination(h.pulse, h.tenant, 'patch', id).send({ enabled: true }).expect(404);
  });

  test('messages of a person erased while they wait in the outbox are not delivered; the others are', async () => {
    const target = await receiver();
    // Held back (Retry-After) until the erasure has happened; ordered, so what follows waits too.
    target.answerWith(() => ({ status: 503, headers: { 'retry-after': '1' } }));
    await destinationFor(target, { ordered: true });
    const { id: erased } = await h.pulse.register.signUp(h.tenant.slug, `erase-${randomUUID()}@example.com`);
    const sent = [
      track('Kept First'),
      { type: 'track', userId: erased, event: 'Forgotten', properties: { item: 'private' }, messageId: randomUUID() },
      { type: 'identify', userId: erased, traits: { phone: '+44 20 7946 0000' }, messageId: randomUUID() },
      track('Kept Last'),
    ];
    await h.send(sent);
    await target.until((received) => received.length >= 1);
    await h.pulse.register
      .http()
      .delete(`/t/${h.tenant.slug}/users/${erased}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .expect(204);
    await h.pulse.profilesCaughtUp();
    for (let tries = 0; (await h.profile('userId', erased)).status !== 404 && tries < 100; tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    target.answerWith(() => ({ status: 200 }));
    await target.until(() => target.delivered().some((message) => message.messageId === sent[3]!.messageId));
    expect(target.delivered().map((message) => message.messageId)).toEqual([sent[0]!.messageId, sent[3]!.messageId]);
    expect(target.received.map((each) => each.body).join('')).not.toMatch(/private|7946/);
  });

  test("another tenant's API key gets 403 on a destination", async () => {
    const other = await h.pulse.createTenant();
    const target = await receiver();
    const { id } = await destinationFor(target);
    const response = await h.pulse.http().get(`/t/${h.tenant.slug}/destinations/${id}`).set('authorization', `Bearer ${other.apiKey}`);
    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
