import { randomUUID } from 'node:crypto';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from './pulse-harness';

describe('erasure reaches tracked history', () => {
  let pulse: PulseHarness;
  let tenant: Tenant;
  beforeAll(async () => {
    pulse = await startPulse();
    tenant = await pulse.createTenant();
  });
  afterAll(() => pulse.close());

  const send = (batch: object[]) => pulse.http().post('/v1/batch').set('authorization', basic(tenant.writeKey)).send({ batch }).expect(200);
  const profile = (kind: string, value: string) =>
    pulse.http().get(`/t/${tenant.slug}/profiles/${kind}/${encodeURIComponent(value)}`).set('authorization', `Bearer ${tenant.apiKey}`);

  test('erasing a person through register makes their tracked events unreadable and their profile disappear', async () => {
    const { id: userId } = await pulse.register.signUp(tenant.slug, 'erase.me@example.com');
    const device = `device-${randomUUID()}`;
    const anonymousMessage = randomUUID();
    await send([
      { type: 'track', anonymousId: device, event: 'Browsed', properties: { query: 'private search' }, messageId: anonymousMessage },
      { type: 'identify', userId, anonymousId: device, traits: { phone: '+44 20 7946 0000' } },
      { type: 'track', userId, event: 'Bought', properties: { item: 'book' } },
    ]);
    await pulse.profilesCaughtUp();
    expect((await profile('anonymousId', device)).body.userId).toBe(userId);

    await pulse.register.http().delete(`/t/${tenant.slug}/users/${userId}`).set('authorization', `Bearer ${tenant.apiKey}`).expect(204);
    await eventually(async () => (await profile('userId', userId)).status === 404);
    expect((await profile('anonymousId', device)).status).toBe(404);
    expect((await profile('email', 'erase.me@example.com')).status).toBe(404);

    const { rows } = await pulse.runtime.infrastructure.pool.query(
      `SELECT ${['seq::text AS seq', 'transaction_id::text AS transaction_id', 'stream_name', 'stream_revision::text AS stream_revision', 'event_id', 'type', 'data', 'metadata', 'created_at'].join(', ')}
       FROM es_events WHERE stream_name LIKE $1`,
      [`pulse.tracking-${tenant.id}.%`],
    );
    const decoded = await Promise.all(
      rows.map((row) =>
        pulse.runtime.infrastructure.codec.decode({
          id: row.event_id, streamName: row.stream_name, revision: BigInt(row.stream_revision), position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.seq) },
          type: row.type, data: row.data, metadata: row.metadata, createdAt: row.created_at,
        }),
      ),
    );
    expect(decoded).toHaveLength(3);
    for (const envelope of decoded) {
      expect(envelope.erased).toBe(true);
      expect(JSON.stringify(envelope.event.data)).not.toMatch(/private search|7946|book/);
    }

    // The person's browser keeps sending: acknowledged, never stored.
    const after = randomUUID();
    await send([{ type: 'track', userId, event: 'Came Back', messageId: after }]);
    expect((await pulse.storedMessageIds(tenant.id)).has(after)).toBe(false);
  });
});
