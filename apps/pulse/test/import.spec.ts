import { randomUUID } from 'node:crypto';
import { basic, usePulse } from './pulse-harness';
import { createDestination, OUTBOUND_TEST_ENV } from './destinations-support';
import { WebhookReceiver } from './webhook-receiver';

/**
 * Segment's /v1/import moves history in: messages years old are stored with their own timestamps
 * and build profiles, but start nothing live. A webhook destination gets them only if it asks for
 * history; live messages sent beside them go out as usual.
 */
describe('historical import', () => {
  const h = usePulse({ env: OUTBOUND_TEST_ENV });
  const receivers: WebhookReceiver[] = [];
  afterAll(async () => {
    for (const each of receivers) await each.close();
  });
  const destination = async (settings: object) => {
    const target = await WebhookReceiver.start();
    receivers.push(target);
    const created = await createDestination(h.pulse, h.tenant, { name: 'history test', url: target.url, ...settings });
    expect(created.status).toBe(201);
    target.trust(created.body.secret);
    return target;
  };
  const post = (path: string, batch: object[]) =>
    h.pulse.http().post(path).set('authorization', basic(h.tenant.writeKey)).send({ batch }).expect(200);

  test('old messages keep their timestamps and build the profile; only a destination that asks for history receives them', async () => {
    // In log order: history routed to liveOnly would reach it before the live message.
    const [liveOnly, withHistory] = [await destination({ ordered: true }), await destination({ historical: true })];
    const userId = `imported-${randomUUID()}`;
    const history = [
      { type: 'identify', userId, traits: { plan: 'legacy' }, timestamp: '2015-03-01T09:00:00Z', messageId: randomUUID() },
      {
        type: 'track',
        userId,
        event: 'Order Completed',
        properties: { total: 12 },
        timestamp: '2015-03-02T10:30:00Z',
        messageId: randomUUID(),
      },
    ];
    await post('/v1/import', history);
    const live = { type: 'track', userId, event: 'Signed In', messageId: randomUUID() };
    await post('/v1/batch', [live]);

    await withHistory.until(() => withHistory.delivered().length >= 3);
    await liveOnly.until(() => liveOnly.delivered().length >= 1);
    expect(
      withHistory
        .delivered()
        .map((message) => message.messageId)
        .sort(),
    ).toEqual([...history, live].map((m) => m.messageId).sort());
    expect(liveOnly.delivered().map((message) => message.messageId)).toEqual([live.messageId]);

    await h.pulse.profilesCaughtUp();
    const events = (await h.profileEvents('userId', userId).expect(200)).body.events as { name: string; timestamp: string }[];
    expect(events.map((event) => [event.name, event.timestamp])).toEqual(
      expect.arrayContaining([
        ['Order Completed', '2015-03-02T10:30:00.000Z'],
        ['Signed In', expect.stringMatching(/^20\d\d-/)],
      ]),
    );
    expect((await h.profile('userId', userId).expect(200)).body.traits).toMatchObject({ plan: 'legacy' });
  });

  test('import takes what batch takes, no more: bad messages are a 400 and nothing is stored', async () => {
    const before = (await h.pulse.storedMessageIds(h.tenant.id)).size;
    const response = await h.pulse
      .http()
      .post('/v1/import')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ batch: [{ type: 'track', userId: 'u', event: 'Old', timestamp: '1969-12-31T23:59:59Z' }] });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual(['/batch/0/timestamp']);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).size).toBe(before);
  });
});
