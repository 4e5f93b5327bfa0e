import { randomUUID } from 'node:crypto';
import { LEGACY_CLIENT_SOURCE, MessageReceived, trackingStreamFor } from '#contracts';
import { eventually, usePulse } from './pulse-harness';

describe('erasure reaches tracked history', () => {
  const h = usePulse();

  test('erasing a person through register makes their tracked events unreadable and their profile disappear', async () => {
    const { id: userId } = await h.pulse.register.signUp(h.tenant.slug, 'erase.me@example.com');
    const device = `device-${randomUUID()}`;
    const anonymousMessage = randomUUID();
    await h.send([
      { type: 'track', anonymousId: device, event: 'Browsed', properties: { query: 'private search' }, messageId: anonymousMessage },
      { type: 'identify', userId, anonymousId: device, traits: { phone: '+44 20 7946 0000' } },
      { type: 'track', userId, event: 'Bought', properties: { item: 'book' } },
    ]);
    await h.pulse.profilesCaughtUp();
    expect((await h.profile('anonymousId', device)).body.userId).toBe(userId);

    await h.pulse.register
      .http()
      .delete(`/t/${h.tenant.slug}/users/${userId}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .expect(204);
    await eventually(async () => (await h.profile('userId', userId)).status === 404);
    expect((await h.profile('anonymousId', device)).status).toBe(404);
    expect((await h.profile('email', 'erase.me@example.com')).status).toBe(404);

    const { rows } = await h.pulse.runtime.infrastructure.pool.query(
      `SELECT ${['seq::text AS seq', 'transaction_id::text AS transaction_id', 'stream_name', 'stream_revision::text AS stream_revision', 'event_id', 'type', 'data', 'metadata', 'created_at'].join(', ')}
       FROM es_events WHERE stream_name LIKE $1`,
      [`pulse.tracking-${h.tenant.id}.%`],
    );
    const decoded = await Promise.all(
      rows.map((row) =>
        h.pulse.runtime.infrastructure.codec.decode({
          id: row.event_id,
          streamName: row.stream_name,
          revision: BigInt(row.stream_revision),
          position: { commit: BigInt(row.transaction_id), prepare: BigInt(row.seq) },
          type: row.type,
          data: row.data,
          metadata: row.metadata,
          createdAt: row.created_at,
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
    await h.send([{ type: 'track', userId, event: 'Came Back', messageId: after }]);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).has(after)).toBe(false);
  });

  test('a call sealed before the erasure but stored after it brings no profile back', async () => {
    const { id: userId } = await h.pulse.register.signUp(h.tenant.slug, 'late.call@example.com');
    await h.send([{ type: 'track', userId, event: 'Visited' }]);
    await h.pulse.profilesCaughtUp();
    // Accepted (and sealed with the person's key) just before the erasure, committed just after it.
    const now = new Date();
    const late = await h.pulse.runtime.infrastructure.codec.encode(
      MessageReceived({
        kind: 'track',
        messageId: randomUUID(),
        userId,
        anonymousId: null,
        event: 'Late',
        timestamp: now.toISOString(),
        receivedAt: now.toISOString(),
        properties: { note: 'in flight' },
        carriesTraits: false,
        source: LEGACY_CLIENT_SOURCE,
        historical: false,
      }),
      { tenantId: h.tenant.id, correlationId: randomUUID(), now },
    );
    await h.pulse.register
      .http()
      .delete(`/t/${h.tenant.slug}/users/${userId}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .expect(204);
    await eventually(async () => (await h.profile('userId', userId)).status === 404);
    await h.pulse.runtime.store.appendToStream(trackingStreamFor(h.tenant.id, 0), [late], { expectedRevision: 'any' });
    await h.pulse.profilesCaughtUp();
    expect((await h.profile('userId', userId)).status).toBe(404);
  });
});
