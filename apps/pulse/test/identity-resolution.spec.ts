import { randomUUID } from 'node:crypto';
import { basic, startPulse, type PulseHarness, type Tenant } from './pulse-harness';

describe('identity resolution through the tracking API', () => {
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

  test('a person who signs up through register gets a profile with their userId and e-mail', async () => {
    const { id } = await pulse.register.signUp(tenant.slug, 'linus@example.com');
    await send([{ type: 'track', userId: id, event: 'Logged In' }]);
    await pulse.profilesCaughtUp();
    const byEmail = await profile('email', 'LINUS@example.com');
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({ userId: id, traits: { email: 'linus@example.com' }, counters: { total: 2, events: { 'Signed Up': { count: 1 }, 'Logged In': { count: 1 } } } });
  });

  test('merges under concurrent requests stay consistent: one profile per person, the shared device never glues users', async () => {
    const people = Array.from({ length: 8 }, (_, i) => ({ userId: `person-${i}-${randomUUID()}`, device: `device-${i}-${randomUUID()}` }));
    const shared = `kiosk-${randomUUID()}`;
    // Each person: anonymous events on their own device, identify, and visits to one shared kiosk, all at once.
    await Promise.all(
      people.flatMap((person) => [
        send([{ type: 'track', anonymousId: person.device, event: 'Viewed' }]),
        send([{ type: 'identify', userId: person.userId, anonymousId: person.device }]),
        send([{ type: 'track', userId: person.userId, anonymousId: shared, event: 'Kiosk Used' }]),
        send([{ type: 'track', anonymousId: person.device, event: 'Viewed Again' }]),
      ]),
    );
    await pulse.profilesCaughtUp();
    const profileIds = new Set<string>();
    for (const person of people) {
      const byUser = await profile('userId', person.userId);
      const byDevice = await profile('anonymousId', person.device);
      expect(byUser.status).toBe(200);
      expect(byDevice.body.profileId).toBe(byUser.body.profileId);
      expect(byUser.body.identities.userId).toEqual([person.userId]);
      expect(byUser.body.counters.events).toMatchObject({ Viewed: { count: 1 }, 'Viewed Again': { count: 1 }, 'Kiosk Used': { count: 1 } });
      profileIds.add(byUser.body.profileId);
    }
    expect(profileIds.size).toBe(people.length);
    // The kiosk belongs to whoever used it first; nobody else was merged through it.
    expect(profileIds.has((await profile('anonymousId', shared)).body.profileId)).toBe(true);
  });

  test('alias merges profiles, records ProfilesMerged, and later events of the merged id land on the survivor', async () => {
    const userId = `u-${randomUUID()}`;
    const old = `old-${randomUUID()}`;
    await send([{ type: 'track', anonymousId: old, event: 'Before' }, { type: 'identify', userId, traits: { plan: 'x' } }]);
    await pulse.profilesCaughtUp();
    const mergedAway = (await profile('anonymousId', old)).body.profileId;
    await send([{ type: 'alias', userId, previousId: old }]);
    await send([{ type: 'track', anonymousId: old, event: 'After' }]);
    await pulse.profilesCaughtUp();
    const survivor = await profile('userId', userId);
    expect((await profile('anonymousId', old)).body.profileId).toBe(survivor.body.profileId);
    expect(survivor.body.counters.events).toMatchObject({ Before: { count: 1 }, After: { count: 1 } });
    const { rows } = await pulse.runtime.infrastructure.pool.query(`SELECT data FROM es_events WHERE type = 'ProfilesMerged' AND data->>'mergedId' = $1`, [mergedAway]);
    expect(rows.map((row) => row.data.survivorId)).toEqual([survivor.body.profileId]);
  });

  test('placeholder ids are never identities', async () => {
    await send([{ type: 'track', anonymousId: 'undefined', event: 'Ghost' }, { type: 'track', userId: 'null', anonymousId: '0', event: 'Ghost' }]);
    await pulse.profilesCaughtUp();
    expect((await profile('anonymousId', 'undefined')).status).toBe(404);
    expect((await profile('userId', 'null')).status).toBe(404);
  });
});
