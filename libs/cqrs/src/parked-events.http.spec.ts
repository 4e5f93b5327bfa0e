import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { PostgresEventStore } from '#eventstore/postgres';
import { createServiceApp } from '#platform';
import { createTestDatabase } from '../../../test/support/database';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import { defineEvent, EventRegistry } from './event-types';
import { adminTokenCheck, ParkedEventsAdmin, ParkedEventsController, type ParkedEventsWiring } from './parked-events.http';
import type { Projection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { migrateProjectionTables } from './projection-tables';

const Noted = defineEvent<{ amount: number }>()('Noted');
const noPersonalData: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };
const codec = new EventCodec(new EventRegistry([Noted]), noPersonalData);
const ADMIN_TOKEN = 'an-admin-token-of-at-least-32-characters';
const PROJECTION = 'admin.notes';

/**
 * The parked-events admin API, as every service mounts it: behind the admin token, one tenant's
 * events per tenant path (another tenant's answer 404), the installation's on /admin/parked-events,
 * retry through the real runner and projection, dismissal.
 */
describe('parked events admin API', () => {
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let runner: ProjectionRunner;
  const apps: NestFastifyApplication[] = [];
  const tenants = { alpha: randomUUID(), beta: randomUUID() };
  /** Per tenant: events parked because their amount breaks the read model's constraint. */
  const poisoned: Record<keyof typeof tenants, string[]> = { alpha: [], beta: [] };
  let tenantless: string;

  const projection: Projection = {
    name: PROJECTION,
    filter: { streamNamePrefixes: ['admin-notes-'] },
    apply: async (envelope, tx) =>
      void (await tx.query('INSERT INTO admin_notes (event_id, amount) VALUES ($1, $2)', [
        envelope.id,
        (envelope.event.data as { amount: number }).amount,
      ])),
  };

  async function serve(wiring: Partial<ParkedEventsWiring> = {}): Promise<ReturnType<typeof request.agent>> {
    const admin = new ParkedEventsAdmin({
      requireAdmin: adminTokenCheck(ADMIN_TOKEN),
      tenantIdOf: async (slug) => tenants[slug as keyof typeof tenants],
      projections: [PROJECTION],
      runners: [runner],
      dataSource,
      ...wiring,
    });
    @Module({ controllers: [ParkedEventsController], providers: [{ provide: ParkedEventsAdmin, useValue: admin }] })
    class AdminModule {}
    const app = await createServiceApp(AdminModule, { serviceName: 'parked-admin', logLevel: 'silent', processMetrics: false });
    apps.push(app);
    return request.agent(app.getHttpServer()).set('authorization', `Bearer ${ADMIN_TOKEN}`);
  }

  const ids = (body: { items: { eventId: string }[] }) => body.items.map((item) => item.eventId);
  const applied = async () =>
    ((await dataSource.query('SELECT event_id FROM admin_notes')) as { event_id: string }[]).map((row) => row.event_id).sort();

  beforeAll(async () => {
    const url = await createTestDatabase('parked_admin');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
    await migrateProjectionTables(dataSource);
    await dataSource.query(
      'CREATE TABLE admin_notes (event_id text PRIMARY KEY, amount int NOT NULL CONSTRAINT small CHECK (amount < 100))',
    );
    for (const slug of ['alpha', 'beta', 'alpha', 'beta', 'alpha'] as const) {
      for (const amount of [1, 500]) {
        const event = await codec.encode(Noted({ amount }), { tenantId: tenants[slug], correlationId: randomUUID(), now: new Date() });
        await store.appendToStream(`admin-notes-${slug}`, [event]);
        if (amount > 100) poisoned[slug].push(event.id!);
      }
    }
    tenantless = randomUUID();
    await store.appendToStream('admin-notes-nobody', [
      { id: tenantless, type: 'Noted', data: { amount: 1 }, metadata: { schemaVersion: 1 } },
    ]);
    runner = new ProjectionRunner(projection, store, codec, dataSource, undefined, undefined, { backoffMs: 10 });
    runner.start();
    await runner.waitFor((await store.headPosition())!, 20_000);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await runner.stop();
    await dataSource.destroy();
    await store.close();
  });

  test('without the admin token nothing is shown; with a wrong one neither', async () => {
    const api = await serve();
    const anonymous = await request(apps[0]!.getHttpServer()).get('/admin/tenants/alpha/parked-events');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/application\/problem\+json/);
    expect((await api.get('/admin/parked-events').set('authorization', `Bearer ${ADMIN_TOKEN}x`)).status).toBe(403);
    // Tenants are looked up only for the admin: an unknown slug is no different before the token.
    expect((await request(apps[0]!.getHttpServer()).get('/admin/tenants/nobody/parked-events')).status).toBe(401);
    expect((await api.get('/admin/tenants/nobody/parked-events')).status).toBe(404);
  });

  test('a service given no admin token answers 404 on every route', async () => {
    const api = await serve({ requireAdmin: undefined });
    expect((await api.get('/admin/tenants/alpha/parked-events')).status).toBe(404);
    expect((await api.get('/admin/parked-events')).status).toBe(404);
    expect((await api.post(`/admin/parked-events/${randomUUID()}/retry`)).status).toBe(404);
    expect((await api.delete(`/admin/tenants/alpha/parked-events/${randomUUID()}`)).status).toBe(404);
  });

  test("each tenant sees its own parked events, in log order; the installation's view also those of no tenant", async () => {
    const api = await serve();
    const alpha = await api.get('/admin/tenants/alpha/parked-events');
    expect(alpha.status).toBe(200);
    expect(ids(alpha.body)).toEqual(poisoned.alpha);
    expect(alpha.body.items[0]).toEqual({
      id: expect.any(String),
      projection: PROJECTION,
      eventId: poisoned.alpha[0],
      eventType: 'Noted',
      tenantId: tenants.alpha,
      streamName: 'admin-notes-alpha',
      streamRevision: '1',
      position: expect.stringMatching(/^\d+\/\d+$/),
      errorKind: '23514',
      reason: expect.stringContaining('constraint small'),
      attempts: expect.any(Number),
      parkedAt: expect.any(String),
      lastAttemptAt: expect.any(String),
    });
    expect(alpha.body.nextCursor).toBeNull();
    expect(ids((await api.get('/admin/tenants/beta/parked-events')).body)).toEqual(poisoned.beta);
    const all = await api.get('/admin/parked-events');
    expect(ids(all.body).sort()).toEqual([...poisoned.alpha, ...poisoned.beta, tenantless].sort());
    expect(all.body.items.find((item: { eventId: string }) => item.eventId === tenantless)).toMatchObject({
      tenantId: null,
      errorKind: 'undecodable',
    });
  });

  test('pages follow one another with the cursor; a malformed cursor, limit or projection answers 400 naming it', async () => {
    const api = await serve();
    const seen: string[] = [];
    let cursor: string | null = '';
    for (let page = 0; cursor !== null; page++) {
      const answer = await api.get('/admin/parked-events').query({ limit: 2, ...(cursor ? { cursor } : {}) });
      expect(answer.status).toBe(200);
      expect(answer.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(answer.body));
      cursor = answer.body.nextCursor;
      expect(page).toBeLessThan(5);
    }
    expect(seen).toEqual(ids((await api.get('/admin/parked-events')).body));
    expect(new Set(seen).size).toBe(seen.length);

    for (const [query, pointer] of [
      [{ cursor: 'not-a-cursor' }, '/cursor'],
      [{ cursor: Buffer.from('1/2/another.projection').toString('base64url') }, '/cursor'],
      [{ limit: '0' }, '/limit'],
      [{ limit: 'lots' }, '/limit'],
      [{ projection: 'another.projection' }, '/projection'],
    ] as const) {
      const refused = await api.get('/admin/parked-events').query(query);
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([expect.objectContaining({ pointer })]);
    }
  });

  test("retry: another tenant's event is not found; it fails with 409 while the cause is there, applies once it is fixed", async () => {
    const api = await serve();
    const [parked] = (await api.get('/admin/tenants/alpha/parked-events')).body.items;
    expect((await api.post(`/admin/tenants/beta/parked-events/${parked.id}/retry`)).status).toBe(404);
    expect((await api.post('/admin/tenants/alpha/parked-events/not-an-id/retry')).status).toBe(404);

    const refused = await api.post(`/admin/tenants/alpha/parked-events/${parked.id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      type: expect.stringMatching(/parked-event-still-fails$/),
      errorKind: '23514',
      attempts: parked.attempts + 1,
    });
    const [kept] = (await api.get('/admin/tenants/alpha/parked-events')).body.items;
    expect(kept).toMatchObject({ id: parked.id, attempts: parked.attempts + 1 });

    await dataSource.query('ALTER TABLE admin_notes DROP CONSTRAINT small');
    try {
      const retried = await api.post(`/admin/tenants/alpha/parked-events/${parked.id}/retry`);
      expect(retried.status).toBe(200);
      expect(retried.body).toEqual({ id: parked.id, projection: PROJECTION, eventId: parked.eventId, applied: true });
      expect(await applied()).toContain(parked.eventId);
      expect(ids((await api.get('/admin/tenants/alpha/parked-events')).body)).not.toContain(parked.eventId);
      expect((await api.post(`/admin/tenants/alpha/parked-events/${parked.id}/retry`)).status).toBe(404);
    } finally {
      await dataSource.query('DELETE FROM admin_notes WHERE amount >= 100');
      await dataSource.query('ALTER TABLE admin_notes ADD CONSTRAINT small CHECK (amount < 100)');
    }
  });

  test('a parked event of a projection this process does not run cannot be retried here (421)', async () => {
    const api = await serve({ runners: [] });
    const [parked] = (await api.get('/admin/tenants/beta/parked-events')).body.items;
    const misdirected = await api.post(`/admin/parked-events/${parked.id}/retry`);
    expect(misdirected.status).toBe(421);
    expect(misdirected.body.detail).toContain(PROJECTION);
  });

  test("dismiss: another tenant's event is not found; dismissed, it is gone from the list, never applied, and still in the log", async () => {
    const api = await serve();
    const [parked] = (await api.get('/admin/tenants/beta/parked-events')).body.items;
    expect((await api.delete(`/admin/tenants/alpha/parked-events/${parked.id}`)).status).toBe(404);
    expect((await api.delete(`/admin/tenants/beta/parked-events/${parked.id}`)).status).toBe(204);
    expect(ids((await api.get('/admin/parked-events')).body)).not.toContain(parked.eventId);
    expect((await api.delete(`/admin/tenants/beta/parked-events/${parked.id}`)).status).toBe(404);
    expect(await applied()).not.toContain(parked.eventId);
    expect((await store.readStream('admin-notes-beta')).map((event) => event.id)).toContain(parked.eventId);

    const [nobodys] = (await api.get('/admin/parked-events')).body.items.filter(
      (item: { tenantId: string | null }) => item.tenantId === null,
    );
    expect((await api.delete(`/admin/parked-events/${nobodys.id}`)).status).toBe(204);
  });
});
