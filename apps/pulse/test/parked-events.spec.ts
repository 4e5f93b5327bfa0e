import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { MessageReceived, trackingStreamFor } from '#contracts';
import { basic, eventually, startPulseApp, usePulse, type Tenant } from './pulse-harness';

const ADMIN_TOKEN = 'pulse-admin-token-for-the-parked-events-spec';
const LAG_LIMIT_MS = 5000;
/** What an earlier pulse stored for `"timestamp": "9999-12-31T23:00:00-05:00"`: PostgreSQL's timestamptz refuses it. */
const YEAR_10000 = new Date('9999-12-31T23:00:00-05:00').toISOString();

/**
 * Pulse split as deployed (ingest, and a projector whose readiness follows the profiles' lag),
 * fed a stored message the profiles projection cannot apply: that message is parked, the same
 * tenant's later messages and another tenant's keep reaching their profiles, the projector stays
 * ready, and the admin API lists it, refuses a retry while it still fails, and dismisses it.
 */
describe('pulse profiles past a message they cannot apply', () => {
  const h = usePulse({ env: { PULSE_ROLE: 'ingest', ADMIN_TOKEN } });
  let projector: NestFastifyApplication;
  let other: Tenant;

  beforeAll(async () => {
    ({ app: projector } = await startPulseApp({
      DATABASE_URL: h.pulse.databaseUrl,
      TESSERA_MASTER_KEY: h.pulse.masterKey,
      PULSE_ROLE: 'projector',
      ADMIN_TOKEN,
      READY_MAX_PROJECTION_LAG_MS: String(LAG_LIMIT_MS),
    }));
    other = await h.pulse.createTenant();
  });
  afterAll(() => projector?.close());

  const admin = (app: NestFastifyApplication) => ({
    get: (path: string) => request(app.getHttpServer()).get(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
    post: (path: string) => request(app.getHttpServer()).post(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
    delete: (path: string) => request(app.getHttpServer()).delete(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
  });
  const track = (userId: string, event: string) => ({ type: 'track', userId, event, messageId: randomUUID() });
  const profileOf = (tenant: Tenant, userId: string) =>
    h.pulse.http().get(`/t/${tenant.slug}/profiles/userId/${userId}`).set('authorization', `Bearer ${tenant.apiKey}`);

  test('the message is parked; everything else flows, the projector stays ready; the admin API lists, retries and dismisses it', async () => {
    const userId = `parked-${randomUUID()}`;
    const otherUserId = `flowing-${randomUUID()}`;
    await h.send([track(userId, 'Before')]);
    // As an earlier pulse accepted it, before the edges refused such timestamps.
    const poison = await h.pulse.runtime.infrastructure.codec.encode(
      MessageReceived({
        kind: 'track',
        messageId: randomUUID(),
        userId,
        anonymousId: null,
        event: 'From Year 10000',
        timestamp: YEAR_10000,
        receivedAt: new Date().toISOString(),
        properties: {},
        carriesTraits: false,
        source: { kind: 'client', keyId: 'initial-write' },
        historical: false,
      }),
      { tenantId: h.tenant.id, correlationId: randomUUID(), now: new Date() },
    );
    await h.pulse.runtime.store.appendToStream(trackingStreamFor(h.tenant.id, 0), [poison], { expectedRevision: 'any' });
    const poisonedAt = Date.now();
    await h.send([track(userId, 'After')]);
    await request(h.pulse.app.getHttpServer())
      .post('/v1/batch')
      .set('authorization', basic(other.writeKey))
      .send({ batch: [track(otherUserId, 'Meanwhile')] })
      .expect(200);

    // Ready at every look, for longer than a stalled projection would take to leave rotation.
    const readiness: number[] = [];
    await eventually(async () => {
      readiness.push((await request(projector.getHttpServer()).get('/health/ready')).status);
      const [mine, theirs] = await Promise.all([profileOf(h.tenant, userId), profileOf(other, otherUserId)]);
      return Date.now() - poisonedAt > LAG_LIMIT_MS + 500 && mine.body.counters?.total === 2 && theirs.body.counters?.total === 1;
    }, 30_000);
    expect(new Set(readiness)).toEqual(new Set([200]));
    expect((await profileOf(h.tenant, userId)).body.counters.events).toEqual({
      Before: expect.objectContaining({ count: 1 }),
      After: expect.objectContaining({ count: 1 }),
    });

    const listed = await admin(h.pulse.app).get(`/admin/tenants/${h.tenant.slug}/parked-events`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ projection: 'pulse.profiles', eventId: poison.id, tenantId: h.tenant.id, errorKind: '22009' }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain('+010000');
    expect((await admin(projector).get(`/admin/tenants/${other.slug}/parked-events`)).body.items).toEqual([]);
    expect(
      await request(projector.getHttpServer())
        .get('/metrics')
        .then((r) => r.text),
    ).toMatch(/tessera_projection_events_parked_total\{[^}]*projection="pulse.profiles"[^}]*reason="22009"[^}]*\} 1\n/);

    const [parked] = listed.body.items;
    // Ingest does not run the profiles projection; the projector does, and the message still fails there.
    expect((await admin(h.pulse.app).post(`/admin/tenants/${h.tenant.slug}/parked-events/${parked.id}/retry`)).status).toBe(421);
    expect((await admin(projector).post(`/admin/tenants/${other.slug}/parked-events/${parked.id}/retry`)).status).toBe(404);
    const retried = await admin(projector).post(`/admin/tenants/${h.tenant.slug}/parked-events/${parked.id}/retry`);
    expect(retried.status).toBe(409);
    expect(retried.body).toMatchObject({ errorKind: '22009', attempts: parked.attempts + 1 });

    expect((await admin(projector).delete(`/admin/tenants/${other.slug}/parked-events/${parked.id}`)).status).toBe(404);
    expect((await admin(projector).delete(`/admin/tenants/${h.tenant.slug}/parked-events/${parked.id}`)).status).toBe(204);
    expect((await admin(h.pulse.app).get('/admin/parked-events')).body.items).toEqual([]);
    expect((await profileOf(h.tenant, userId)).body.counters.total).toBe(2);
  });

  test('the admin routes want the admin token, and answer 404 on a pulse that has none', async () => {
    expect((await request(projector.getHttpServer()).get('/admin/parked-events')).status).toBe(401);
    const { app: tokenless } = await startPulseApp({
      DATABASE_URL: h.pulse.databaseUrl,
      TESSERA_MASTER_KEY: h.pulse.masterKey,
      PULSE_ROLE: 'ingest',
    });
    try {
      expect((await admin(tokenless).get('/admin/parked-events')).status).toBe(404);
    } finally {
      await tokenless.close();
    }
  });
});
