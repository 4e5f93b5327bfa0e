import { randomUUID } from 'node:crypto';
import { trackingStreamFor } from '#contracts';
import { MAX_INGEST_WRITERS } from '../src/pulse.config';
import { RETENTION } from '../src/pulse.module';
import type { TrackedEventsRetention } from '../src/retention/retention.job';
import { usePulse } from './pulse-harness';

const DAY_MS = 86_400_000;

/** Retention: a tenant's tracked events older than its period leave the event log and profiles' event lists. */
describe('retention of tracked events', () => {
  const h = usePulse();
  const retention = (slug: string, apiKey: string) => ({
    get: () => h.pulse.http().get(`/t/${slug}/retention`).set('authorization', `Bearer ${apiKey}`),
    put: (body: unknown) =>
      h.pulse
        .http()
        .put(`/t/${slug}/retention`)
        .set('authorization', `Bearer ${apiKey}`)
        .send(body as object),
  });
  const job = () => h.pulse.app.get<TrackedEventsRetention>(RETENTION);
  const storedEvents = async (tenantId: string) => {
    let count = 0;
    for (let partition = 0; partition < MAX_INGEST_WRITERS; partition++)
      count += (await h.pulse.runtime.store.readStream(trackingStreamFor(tenantId, partition))).length;
    return count;
  };

  test('events past the period are removed from the log and the profile; counters and traits stay; another tenant keeps everything', async () => {
    const other = await h.pulse.createTenant();
    const userId = `u-${randomUUID()}`;
    await h.send([
      { type: 'identify', userId, traits: { plan: 'pro' } },
      { type: 'track', userId, event: 'Viewed' },
      { type: 'track', userId, event: 'Viewed' },
    ]);
    await h.pulse.http().post('/v1/track').auth(other.writeKey, '').send({ userId, event: 'Elsewhere' }).expect(200);
    await h.pulse.profilesCaughtUp();
    expect(await storedEvents(h.tenant.id)).toBe(3);

    expect((await retention(h.tenant.slug, h.tenant.apiKey).get()).body).toEqual({ trackedEventsDays: null });
    const set = await retention(h.tenant.slug, h.tenant.apiKey).put({ trackedEventsDays: 30 });
    expect(set.status).toBe(200);
    expect((await retention(h.tenant.slug, h.tenant.apiKey).get()).body).toEqual({ trackedEventsDays: 30 });

    // Within the period: nothing goes.
    await job().run(new Date(Date.now() + 29 * DAY_MS));
    expect(await storedEvents(h.tenant.id)).toBe(3);
    expect((await h.profileEvents('userId', userId)).body.events).toHaveLength(3);

    const run = await job().run(new Date(Date.now() + 31 * DAY_MS));
    expect(run).toMatchObject({ eventLog: 3, profileEvents: 3 });
    expect(await storedEvents(h.tenant.id)).toBe(0);
    expect((await h.profileEvents('userId', userId)).body.events).toEqual([]);
    const profile = (await h.profile('userId', userId)).body;
    expect(profile).toMatchObject({ traits: { plan: 'pro' }, counters: { total: 3, events: { Viewed: { count: 2 } } } });
    expect(await storedEvents(other.id)).toBe(1);

    // Tracking goes on after a removal: new events land and are kept.
    await h.send([{ type: 'track', userId, event: 'Came Back' }]);
    await h.pulse.profilesCaughtUp();
    expect(await storedEvents(h.tenant.id)).toBe(1);
    expect((await h.profile('userId', userId)).body.counters.total).toBe(4);
  });

  test('keeping events for ever again stops removals', async () => {
    const tenant = await h.pulse.createTenant();
    await retention(tenant.slug, tenant.apiKey).put({ trackedEventsDays: 1 }).expect(200);
    await retention(tenant.slug, tenant.apiKey).put({ trackedEventsDays: null }).expect(200);
    await h.pulse.http().post('/v1/track').auth(tenant.writeKey, '').send({ userId: 'kept', event: 'Kept' }).expect(200);
    await job().run(new Date(Date.now() + 400 * DAY_MS));
    expect(await storedEvents(tenant.id)).toBe(1);
  });

  test('a bad period is a 400 naming it, and nothing changes; reads and writes need the API key of the tenant', async () => {
    const tenant = await h.pulse.createTenant();
    for (const body of [
      { trackedEventsDays: 0 },
      { trackedEventsDays: 3651 },
      { trackedEventsDays: 2.5 },
      { trackedEventsDays: '30' },
      {},
    ]) {
      const refused = await retention(tenant.slug, tenant.apiKey).put(body);
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(refused.body)).toMatch(/trackedEventsDays/);
    }
    expect((await retention(tenant.slug, tenant.apiKey).get()).body).toEqual({ trackedEventsDays: null });
    expect((await retention(tenant.slug, h.tenant.apiKey).put({ trackedEventsDays: 1 })).status).toBe(403);
    expect((await retention(tenant.slug, tenant.writeKey).get()).status).toBe(401);
  });
});
