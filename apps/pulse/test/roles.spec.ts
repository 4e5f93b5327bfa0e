import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import request from 'supertest';
import { basic, eventually, startPulseApp, usePulse } from './pulse-harness';

type Readiness = { status: number; body: { details: { projections: Record<string, { lagMs: number; gatesReadiness?: boolean }> } } };

// Terminus puts the check's own `status` beside what the check reports.
const followed = (ready: Readiness) => Object.keys(ready.body.details.projections).filter((key) => key !== 'status');
const readiness = async (app: NestFastifyApplication): Promise<Readiness> => request(app.getHttpServer()).get('/health/ready');

/**
 * Deployments run pulse split: ingest processes answer tracking calls and profile reads, a projector
 * process keeps the profiles. Neither waits on the other, and only the projector's readiness depends
 * on how far behind the profiles are.
 */
describe('pulse roles', () => {
  const h = usePulse({ env: { PULSE_ROLE: 'ingest', READY_MAX_PROJECTION_LAG_MS: '100' } });
  const started: NestFastifyApplication[] = [];
  const startRole = async (role: string) => {
    const { app } = await startPulseApp({
      DATABASE_URL: h.pulse.databaseUrl,
      TESSERA_MASTER_KEY: h.pulse.masterKey,
      PULSE_ROLE: role,
      READY_MAX_PROJECTION_LAG_MS: '100',
    });
    started.push(app);
    return app;
  };
  afterAll(async () => {
    for (const app of started) await app.close();
  });
  let projectorApp: NestFastifyApplication | undefined;
  const projector = async () => (projectorApp ??= await startRole('projector'));
  const track = (userId: string, event: string) => ({ type: 'track', userId, event, messageId: randomUUID() });

  test('an ingest process acknowledges and stores but keeps no profiles; a projector on the same database builds them and serves no tracking', async () => {
    const userId = `split-${randomUUID()}`;
    await h.send([{ type: 'identify', userId, traits: { plan: 'pro' }, messageId: randomUUID() }, track(userId, 'Opened')]);
    const ingestReady = await readiness(h.pulse.app);
    expect(ingestReady.status).toBe(200);
    // Ingest follows tenants (its keys) and consents (what it must drop); profiles are the projector's.
    expect(followed(ingestReady)).toEqual(['pulse.tenant-keys', 'pulse.consents']);
    expect((await h.profile('userId', userId)).status).toBe(404);
    const pool = h.pulse.runtime.infrastructure.pool;
    expect((await pool.query(`SELECT 1 FROM projection_checkpoints WHERE projection = 'pulse.profiles'`)).rowCount).toBe(0);

    const projectorRole = await projector();
    await eventually(async () => (await h.profile('userId', userId)).status === 200);
    expect((await h.profile('userId', userId)).body).toMatchObject({
      userId,
      traits: { plan: 'pro' },
      counters: { total: 2, events: { Opened: { count: 1 } } },
    });

    const tracked = await request(projectorRole.getHttpServer())
      .post('/v1/batch')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ batch: [track(userId, 'Lost')] });
    expect(tracked.status).toBe(404);
    const read = await request(projectorRole.getHttpServer())
      .get(`/t/${h.tenant.slug}/profiles/userId/${userId}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`);
    expect(read.status).toBe(404);
    const projectorReady = await readiness(projectorRole);
    expect(projectorReady.status).toBe(200);
    // Profiles, and exports' sections, written where profiles are kept.
    expect(followed(projectorReady)).toEqual(['pulse.profiles', 'pulse.exports']);
  });

  test('while the profiles projection is held up, the projector leaves rotation; ingest and all-in-one processes stay ready and keep acknowledging', async () => {
    // Started by the test above, or here when this test runs alone.
    const projectorRole = await projector();
    const allInOne = await startRole('all');
    const userId = `held-${randomUUID()}`;
    // Every runner of the projection blocks on its first write until this transaction ends. SHARE
    // mode, not ACCESS EXCLUSIVE: that one takes a transaction id, which holds every subscription
    // back (the log is read below the oldest running transaction) so nothing would reach them.
    const blocker = new Client({ connectionString: h.pulse.databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE pulse_profile_events IN SHARE MODE');
      await h.send([track(userId, 'Held')]);
      await eventually(async () => (await readiness(projectorRole)).status === 503);
      const all = await readiness(allInOne);
      expect(all.status).toBe(200);
      expect(all.body.details.projections['pulse.profiles']).toMatchObject({ gatesReadiness: false });
      expect(all.body.details.projections['pulse.profiles']!.lagMs).toBeGreaterThan(100);
      expect((await readiness(h.pulse.app)).status).toBe(200);
      const acknowledged = await request(allInOne.getHttpServer())
        .post('/v1/batch')
        .set('authorization', basic(h.tenant.writeKey))
        .send({ batch: [track(userId, 'Held Too')] });
      expect(acknowledged.status).toBe(200);
      await h.send([track(userId, 'Held Three')]);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    await eventually(async () => (await readiness(projectorRole)).status === 200);
    await eventually(async () => (await h.profile('userId', userId)).body.counters?.total === 3);
    expect((await h.profile('userId', userId)).body.counters.events).toMatchObject({
      Held: { count: 1 },
      'Held Too': { count: 1 },
      'Held Three': { count: 1 },
    });
  });
});
