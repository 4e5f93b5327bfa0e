import { randomUUID } from 'node:crypto';
import { basic, usePulse, type Tenant } from './pulse-harness';
import { createDestination, onDestination, OUTBOUND_TEST_ENV, track } from './destinations-support';
import { WebhookReceiver } from './webhook-receiver';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('replays and isolation of destinations', () => {
  // Replays paced at 10 requests a second, so that one is still running while live messages come.
  const h = usePulse({ env: { ...OUTBOUND_TEST_ENV, OUTBOUND_REPLAY_PER_SECOND: '10' } });
  const receivers: WebhookReceiver[] = [];
  afterAll(async () => {
    for (const each of receivers) await each.close();
  });
  const destination = async (tenant: Tenant, settings: object = {}) => {
    const receiver = await WebhookReceiver.start();
    receivers.push(receiver);
    const created = await createDestination(h.pulse, tenant, { name: 'replayed', url: receiver.url, ...settings }).expect(201);
    receiver.trust(created.body.secret);
    return { receiver, id: created.body.id as string };
  };
  const sendAs = (tenant: Tenant, batch: object[]) =>
    h.pulse.http().post('/v1/batch').set('authorization', basic(tenant.writeKey)).send({ batch }).expect(200);
  const stored = async (messageIds: string[]) => {
    const { rows } = await h.pulse.runtime.infrastructure.pool.query<{ position: string }>(
      `SELECT transaction_id::text || '/' || seq::text AS position FROM es_events WHERE data->>'messageId' = ANY($1) ORDER BY transaction_id DESC, seq DESC LIMIT 1`,
      [messageIds],
    );
    return rows[0]!.position;
  };
  const replayed = async (tenant: Tenant, id: string, range: object) => {
    const started = await onDestination(h.pulse, tenant, 'post', id, '/replays').send(range).expect(202);
    for (let tries = 0; tries < 300; tries++) {
      const state = await onDestination(h.pulse, tenant, 'get', id, `/replays/${started.body.id}`).expect(200);
      const stats = await onDestination(h.pulse, tenant, 'get', id).expect(200);
      if (state.body.state === 'done' && stats.body.stats.pending === 0) return state.body as { enqueued: number };
      await pause(100);
    }
    throw new Error('the replay did not finish');
  };

  test('a replay re-delivers exactly the messages stored in the asked range, by time or by log position', async () => {
    const { receiver, id } = await destination(h.tenant);
    const before = [track('Before'), track('Before')];
    const inside = [track('Inside'), track('Inside'), track('Inside')];
    const after = [track('After')];
    await h.send(before);
    await receiver.until(() => receiver.delivered().length >= 2);
    await pause(50);
    const from = new Date();
    await pause(50);
    await h.send(inside);
    await receiver.until(() => receiver.delivered().length >= 5);
    await pause(50);
    const to = new Date();
    await pause(50);
    await h.send(after);
    await receiver.until(() => receiver.delivered().length >= 6);
    const live = receiver.received.map((each) => each.webhookId);

    await replayed(h.tenant, id, { from: from.toISOString(), to: to.toISOString() });
    const byTime = receiver.delivered().slice(6);
    expect(byTime.map((message) => message.messageId).sort()).toEqual(inside.map((message) => message.messageId).sort());
    // New webhook-ids: a receiver deduping on them would drop a replay; each message keeps its messageId.
    expect(receiver.received.slice(6).filter((each) => live.includes(each.webhookId))).toEqual([]);

    const afterBefore = await stored(before.map((message) => message.messageId));
    const lastInside = await stored(inside.map((message) => message.messageId));
    await replayed(h.tenant, id, { from: afterBefore, to: lastInside });
    const byPosition = receiver.delivered().slice(9);
    expect(byPosition.map((message) => message.messageId).sort()).toEqual(inside.map((message) => message.messageId).sort());
    expect(receiver.received.every((each) => each.verifiedWith.length === 1)).toBe(true);
  });

  test('live messages are delivered while a paced replay of many is still running', async () => {
    const tenant = await h.pulse.createTenant();
    const { receiver, id } = await destination(tenant);
    const history = Array.from({ length: 40 }, () => track('History'));
    const from = new Date(Date.now() - 1000);
    await sendAs(tenant, history);
    await receiver.until(() => receiver.delivered().length >= 40);
    const started = await onDestination(h.pulse, tenant, 'post', id, '/replays').send({ from: from.toISOString() }).expect(202);
    await receiver.until(() => receiver.delivered().length >= 42);
    const fresh = track('Live During Replay');
    await sendAs(tenant, [fresh]);
    await receiver.until(() => receiver.delivered().length >= 81);
    const order = receiver.delivered().map((message) => message.messageId);
    const liveAt = order.indexOf(fresh.messageId);
    // The live message did not queue behind the replay: it arrived before the replay's last message.
    expect(liveAt).toBeGreaterThan(40);
    expect(liveAt).toBeLessThan(80);
    expect((await onDestination(h.pulse, tenant, 'get', id, `/replays/${started.body.id}`).expect(200)).body.enqueued).toBe(40);
  });

  test("a destination that never answers does not hold back another tenant's deliveries", async () => {
    const stuck = await h.pulse.createTenant();
    const healthy = await h.pulse.createTenant();
    const dead = await destination(stuck);
    dead.receiver.answerWith(() => 'hold');
    const fine = await destination(healthy);
    await sendAs(
      stuck,
      Array.from({ length: 30 }, () => track('Stuck')),
    );
    await dead.receiver.until(() => dead.receiver.heldCount >= 4);
    const messages = Array.from({ length: 10 }, () => ({ type: 'track', userId: 'healthy', event: 'Fine', messageId: randomUUID() }));
    await sendAs(healthy, messages);
    await fine.receiver.until(() => fine.receiver.delivered().length >= 10);
    // Every stuck request is still open: the healthy tenant's messages went past them, not after them.
    expect(dead.receiver.received.every((each) => each.status === 0)).toBe(true);
    expect(dead.receiver.heldCount).toBe(dead.receiver.received.length);

    dead.receiver.answerWith(() => ({ status: 200 }));
    dead.receiver.release();
    await dead.receiver.until(() => new Set(dead.receiver.delivered().map((message) => message.messageId)).size >= 30);
  });
});
