import { randomUUID } from 'node:crypto';
import { LEGACY_CLIENT_SOURCE, MessageReceived, trackingStreamFor } from '#contracts';
import request from 'supertest';
import { eventually } from '#platform/testing';
import { usePulse } from './pulse-harness';

describe('identity resolution through the tracking API', () => {
  const h = usePulse();

  test('a person who signs up through register gets a profile with their userId and e-mail', async () => {
    const { id } = await h.pulse.register.signUp(h.tenant.slug, 'linus@example.com');
    await h.send([{ type: 'track', userId: id, event: 'Logged In' }]);
    await h.pulse.profilesCaughtUp();
    const byEmail = await h.profile('email', 'LINUS@example.com');
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({
      userId: id,
      traits: { email: 'linus@example.com' },
      counters: { total: 2, events: { 'Signed Up': { count: 1 }, 'Logged In': { count: 1 } } },
    });
  });

  test('a person who changes their e-mail in register: the profile takes the new address once it is confirmed', async () => {
    const register = h.pulse.register;
    const { id } = await register.signUp(h.tenant.slug, 'moving@example.com');
    const token = await register.tokenFor(h.tenant.id, id);
    const asked = await register
      .http()
      .post(`/t/${h.tenant.slug}/me/email`)
      .set('authorization', `Bearer ${token}`)
      .send({ email: 'moved@example.com' });
    expect(asked.status).toBe(202);
    let code = '';
    await eventually(
      async () => {
        await register.settled();
        code = /code[\s\u00a0]?: (\S+)/u.exec(register.mailbox.list('moved@example.com')[0]?.text ?? '')?.[1] ?? '';
        return code !== '';
      },
      { what: 'the change link' },
    );
    const agent = request.agent(register.app.getHttpServer());
    const opened = await agent.get(`/t/${h.tenant.slug}/confirm-email-change`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(opened.text)![1]!;
    expect((await agent.post(`/t/${h.tenant.slug}/confirm-email-change`).type('form').send({ csrf, token: code })).status).toBe(200);
    // Pulse reads register's event from the log as another service would: polled until its profile shows it.
    await eventually(async () => (await h.profile('userId', id)).body?.traits?.email === 'moved@example.com', {
      what: 'the profile to take the new address',
    });
    expect((await h.profile('userId', id)).body).toMatchObject({ counters: { events: { 'Email Changed': { count: 1 } } } });
  });

  test('a person the tenant imports through register gets a profile with their userId and e-mail, named as imported', async () => {
    const imported = await h.pulse.register
      .http()
      .post(`/t/${h.tenant.slug}/users/import`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .set('content-type', 'application/x-ndjson')
      .send(
        JSON.stringify({ externalId: 'legacy-7', email: 'Ada.Import@example.com', emailVerified: true, profile: { givenName: 'Ada' } }),
      );
    expect(imported.body).toMatchObject({ imported: 1 });
    const id: string = imported.body.accounts[0].id;
    await h.pulse.profilesCaughtUp();
    const byEmail = await h.profile('email', 'ada.import@example.com');
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({
      userId: id,
      traits: { email: 'ada.import@example.com', firstName: 'Ada' },
      counters: { total: 1, events: { Imported: { count: 1 } } },
    });
  });

  test('merges under concurrent requests stay consistent: one profile per person, the shared device never glues users', async () => {
    const people = Array.from({ length: 8 }, (_, i) => ({ userId: `person-${i}-${randomUUID()}`, device: `device-${i}-${randomUUID()}` }));
    const shared = `kiosk-${randomUUID()}`;
    // Each person: anonymous events on their own device, identify, and visits to one shared kiosk, all at once.
    await Promise.all(
      people.flatMap((person) => [
        h.send([{ type: 'track', anonymousId: person.device, event: 'Viewed' }]),
        h.send([{ type: 'identify', userId: person.userId, anonymousId: person.device }]),
        h.send([{ type: 'track', userId: person.userId, anonymousId: shared, event: 'Kiosk Used' }]),
        h.send([{ type: 'track', anonymousId: person.device, event: 'Viewed Again' }]),
      ]),
    );
    await h.pulse.profilesCaughtUp();
    const profileIds = new Set<string>();
    for (const person of people) {
      const byUser = await h.profile('userId', person.userId);
      const byDevice = await h.profile('anonymousId', person.device);
      expect(byUser.status).toBe(200);
      expect(byDevice.body.profileId).toBe(byUser.body.profileId);
      expect(byUser.body.identities.userId).toEqual([person.userId]);
      expect(byUser.body.counters.events).toMatchObject({ Viewed: { count: 1 }, 'Viewed Again': { count: 1 }, 'Kiosk Used': { count: 1 } });
      profileIds.add(byUser.body.profileId);
    }
    expect(profileIds.size).toBe(people.length);
    // The kiosk belongs to whoever used it first; nobody else was merged through it.
    expect(profileIds.has((await h.profile('anonymousId', shared)).body.profileId)).toBe(true);
  });

  test('alias merges profiles, records ProfilesMerged, and later events of the merged id land on the survivor', async () => {
    const userId = `u-${randomUUID()}`;
    const old = `old-${randomUUID()}`;
    await h.send([
      { type: 'track', anonymousId: old, event: 'Before' },
      { type: 'identify', userId, traits: { plan: 'x' } },
    ]);
    await h.pulse.profilesCaughtUp();
    const mergedAway = (await h.profile('anonymousId', old)).body.profileId;
    await h.send([{ type: 'alias', userId, previousId: old }]);
    await h.send([{ type: 'track', anonymousId: old, event: 'After' }]);
    await h.pulse.profilesCaughtUp();
    const survivor = await h.profile('userId', userId);
    expect((await h.profile('anonymousId', old)).body.profileId).toBe(survivor.body.profileId);
    expect(survivor.body.counters.events).toMatchObject({ Before: { count: 1 }, After: { count: 1 } });
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(
      `SELECT data FROM es_events WHERE type = 'ProfilesMerged' AND data->>'mergedId' = $1`,
      [mergedAway],
    );
    expect(rows.map((row) => row.data.survivorId)).toEqual([survivor.body.profileId]);
  });

  test('one batch resolves as one message at a time would: merges chain, and the per-identifier limit stops a shared device', async () => {
    // Seven people, each on their own device, then each identified on one shared kiosk. With the
    // default limit of 5 merges per identifier, the kiosk glues the first six and stops at the seventh.
    const scenario = (tag: string) => {
      const people = Array.from({ length: 7 }, (_, i) => ({ email: `p${i}-${tag}@example.com`, device: `d${i}-${tag}` }));
      const kiosk = `kiosk-${tag}`;
      const kioskMessages = people.map((person) => ({
        type: 'identify',
        anonymousId: kiosk,
        traits: { email: person.email },
        messageId: randomUUID(),
      }));
      return {
        people,
        kiosk,
        kioskMessages,
        messages: [
          ...people.map((person) => ({ type: 'identify', anonymousId: person.device, traits: { email: person.email } })),
          ...kioskMessages,
        ],
      };
    };
    const together = scenario(`batch-${randomUUID()}`);
    await h.send(together.messages);
    const apart = scenario(`apart-${randomUUID()}`);
    for (const message of apart.messages) {
      await h.send([message]);
      await h.pulse.profilesCaughtUp();
    }
    await h.pulse.profilesCaughtUp();
    for (const { people, kiosk, kioskMessages } of [together, apart]) {
      const profiles = await Promise.all(people.map(async (person) => (await h.profile('email', person.email)).body));
      const glued = profiles[0].profileId;
      expect(profiles.map((profile) => profile.profileId === glued)).toEqual([true, true, true, true, true, true, false]);
      expect(profiles[0].counters.total).toBe(12);
      expect(profiles[6].counters.total).toBe(2);
      expect((await h.profile('anonymousId', kiosk)).body.profileId).toBe(glued);
      for (const [i, person] of people.entries())
        expect((await h.profile('anonymousId', person.device)).body.profileId).toBe(profiles[i].profileId);
      const { rows } = await h.pulse.runtime.infrastructure.pool.query(
        `SELECT data->>'viaKind' AS via FROM es_events WHERE type = 'ProfilesMerged' AND data->>'messageId' = ANY($1::text[])`,
        [kioskMessages.map((message) => message.messageId)],
      );
      expect(rows.map((row) => row.via)).toEqual(Array(5).fill('anonymousId'));
    }
  });

  test('placeholder ids are never identities', async () => {
    await h.send([
      { type: 'track', anonymousId: 'undefined', event: 'Ghost' },
      { type: 'track', userId: 'null', anonymousId: '0', event: 'Ghost' },
    ]);
    await h.pulse.profilesCaughtUp();
    expect((await h.profile('anonymousId', 'undefined')).status).toBe(404);
    expect((await h.profile('userId', 'null')).status).toBe(404);
  });

  test("a track call's context.traits are read: its e-mail becomes an identity, its properties stay readable", async () => {
    const userId = `ctx-${randomUUID()}`;
    await h.send([
      { type: 'track', userId, event: 'Checkout', properties: { total: 12 }, context: { traits: { email: 'Ada@Example.com' } } },
    ]);
    await h.pulse.profilesCaughtUp();
    const byEmail = await h.profile('email', 'ada@example.com');
    expect(byEmail.status).toBe(200);
    expect(byEmail.body).toMatchObject({ userId, traits: { email: 'Ada@Example.com' } });
    expect((await h.profileEvents('userId', userId)).body.events).toMatchObject([{ name: 'Checkout', properties: { total: 12 } }]);
  });

  test('calls stored before MessageReceived said whether they carry traits (version 1) still feed profiles', async () => {
    const { runtime, tenant } = { runtime: h.pulse.runtime, tenant: h.tenant };
    const userId = `v1-${randomUUID()}`;
    const now = new Date();
    const context = { tenantId: tenant.id, correlationId: randomUUID(), now };
    const call = (kind: 'track' | 'identify', extra: object) =>
      MessageReceived({
        kind,
        messageId: randomUUID(),
        userId,
        anonymousId: null,
        timestamp: now.toISOString(),
        receivedAt: now.toISOString(),
        carriesTraits: false,
        source: LEGACY_CLIENT_SOURCE,
        historical: false,
        ...extra,
      });
    const asVersion1 = async (event: ReturnType<typeof call>) => {
      const encoded = await runtime.infrastructure.codec.encode(event, context);
      const { carriesTraits: _dropped, source: _notYet, historical: _neither, ...data } = encoded.data;
      return { ...encoded, data, metadata: { ...encoded.metadata, schemaVersion: 1 } };
    };
    const stored = [
      await asVersion1(call('track', { event: 'Legacy Viewed', properties: { page: 'home' } })),
      await asVersion1(call('identify', { traits: { email: 'legacy@example.com', plan: 'gold' } })),
    ];
    await runtime.store.appendToStream(trackingStreamFor(tenant.id, 0), stored, { expectedRevision: 'any' });
    await h.pulse.profilesCaughtUp();
    const byEmail = await h.profile('email', 'legacy@example.com');
    expect(byEmail.body).toMatchObject({
      userId,
      traits: { plan: 'gold' },
      counters: { events: { 'Legacy Viewed': { count: 1 }, identify: { count: 1 } } },
    });
    const events = (await h.profileEvents('userId', userId)).body.events;
    expect(events.find((event: { name: string }) => event.name === 'Legacy Viewed')).toMatchObject({ properties: { page: 'home' } });
  });
});
