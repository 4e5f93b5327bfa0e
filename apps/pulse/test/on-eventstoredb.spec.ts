import { randomUUID } from 'node:crypto';
import { eventually, usePulse } from './pulse-harness';

/** Pulse with EventStoreDB as its event store: the real client against the protocol emulator, read models in PostgreSQL. */
describe('pulse on EventStoreDB', () => {
  const h = usePulse({ eventStoreDb: true });

  test('tracking is accepted, a retried batch is stored once, and the unified profile is built', async () => {
    const userId = `esdb-${randomUUID()}`;
    const device = `device-${randomUUID()}`;
    const batch = [
      { type: 'track', anonymousId: device, event: 'Email Opened', properties: { campaign: 'autumn' }, messageId: randomUUID() },
      { type: 'identify', userId, anonymousId: device, traits: { email: 'ada@example.com', plan: 'pro' }, messageId: randomUUID() },
      { type: 'track', userId, event: 'Email Clicked', messageId: randomUUID() },
    ];
    for (let attempt = 0; attempt < 3; attempt++) expect((await h.send(batch)).body).toEqual({ success: true });

    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    expect(batch.map((message) => stored.get(message.messageId))).toEqual([1, 1, 1]);
    expect(stored.size).toBe(batch.length);

    await eventually(async () => (await h.profile('userId', userId)).body.counters?.total === batch.length);
    const profile = await h.profile('email', 'ada@example.com');
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({
      userId,
      identities: { userId: [userId], anonymousId: [device], email: ['ada@example.com'] },
      traits: { email: 'ada@example.com', plan: 'pro' },
      counters: { total: 3, events: { 'Email Opened': { count: 1 }, 'Email Clicked': { count: 1 }, identify: { count: 1 } } },
    });

    // Nothing of the event log went to PostgreSQL.
    const tables = await h.pulse.runtime.infrastructure.pool.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'es_events'",
    );
    expect(tables.rows[0].n).toBe(0);
  });

  test('concurrent copies of one batch are stored once', async () => {
    const batch = Array.from({ length: 10 }, (_, i) => ({
      type: 'page',
      name: 'Home',
      anonymousId: 'esdb-race',
      messageId: `esdb-race-${i}-${randomUUID()}`,
    }));
    await Promise.all(Array.from({ length: 6 }, () => h.send(batch)));
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    expect(batch.map((message) => stored.get(message.messageId))).toEqual(Array(batch.length).fill(1));
  });
});
