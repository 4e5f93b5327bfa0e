import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { trackingStreamFor } from '#contracts';
import { eventually } from '#platform/testing';
import { auth, PROGRAM, startRewards, startRewardsApp, type RewardsApp, type RewardsHarness, type Tenant } from './rewards-harness';

type Readiness = { status: number; body: { details: { projections: Record<string, { lagMs: number; gatesReadiness?: boolean }> } } };

// Terminus puts the check's own `status` beside what the check reports.
const followed = (ready: Readiness) => Object.keys(ready.body.details.projections).filter((key) => key !== 'status');
const readiness = async (app: RewardsApp): Promise<Readiness> => app.http().get('/health/ready');

/**
 * Deployments run rewards split: API processes answer members, the program and the catalog from
 * read models they keep themselves; one projector process turns every tracked event into points.
 * A tracking surge that holds earning back must not take the API out of rotation: only the
 * projector's readiness depends on how far behind earning is.
 */
describe('rewards roles', () => {
  let h: RewardsHarness;
  let tenant: Tenant;
  const started: RewardsApp[] = [];
  const startRole = async (role: string) => {
    const app = await startRewardsApp(h.databaseUrl, h.masterKey, undefined, { REWARDS_ROLE: role, READY_MAX_PROJECTION_LAG_MS: '100' });
    started.push(app);
    return app;
  };
  let projectorApp: RewardsApp | undefined;
  const projector = async () => (projectorApp ??= await startRole('projector'));

  beforeAll(async () => {
    h = await startRewards({ env: { REWARDS_ROLE: 'api', READY_MAX_PROJECTION_LAG_MS: '100' } });
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(async () => {
    for (const app of started) await app.close();
    await h.close();
  });

  const member = (userId: string) => h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
  const balanceOf = async (userId: string) => (await member(userId)).body.balance as number | undefined;
  /** A server-side `Grant` as pulse stores it, appended without waiting for anyone to earn it. */
  const grant = async (userId: string, points: number) => {
    const record = await h.sealTrack(tenant, userId, 'Grant', { points });
    await h.rewards.runtime.infrastructure.eventStore.appendToStream(trackingStreamFor(tenant.id, 0), [record], {
      expectedRevision: 'any',
    });
  };

  test('an api process answers but earns nothing; a projector on the same database earns and serves no API', async () => {
    const userId = `m-${randomBytes(6).toString('hex')}`;
    await grant(userId, 10);
    const apiReady = await readiness(h.rewards);
    expect(apiReady.status).toBe(200);
    expect(followed(apiReady)).toEqual(['rewards.read-models']);
    const pool = h.rewards.runtime.infrastructure.pool;
    expect((await pool.query(`SELECT 1 FROM projection_checkpoints WHERE projection = 'rewards.earning'`)).rowCount).toBe(0);
    expect((await member(userId)).status).toBe(404);

    const projectorRole = await projector();
    await eventually(async () => (await balanceOf(userId)) === 10);
    expect((await projectorRole.http().get(`/t/${tenant.slug}/program`).set(auth(tenant))).status).toBe(404);
    const projectorReady = await readiness(projectorRole);
    expect(projectorReady.status).toBe(200);
    // Earning, and what else follows tracking and wallets: referrals, the completion of half-done transfers, and exports' sections.
    expect(followed(projectorReady)).toEqual(['rewards.earning', 'rewards.referrals', 'rewards.transfers', 'rewards.exports']);
  });

  test('while earning is held up, the projector leaves rotation; api and all-in-one processes stay ready and keep answering', async () => {
    // Started by the test above, or here when this test runs alone.
    const projectorRole = await projector();
    const allInOne = await startRole('all');
    const userId = `held-${randomBytes(6).toString('hex')}`;
    await grant(userId, 5);
    await eventually(async () => (await balanceOf(userId)) === 5);
    const pool = h.rewards.runtime.infrastructure.pool;
    // Every earning batch fails at its checkpoint with an error the runner retries without end (class
    // 57, operator intervention): earning is stalled, the read models' projection is not. A lock would
    // not do: one that takes a transaction id holds every subscription back, the API's included.
    await pool.query(`CREATE OR REPLACE FUNCTION rewards_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'earning held up' USING ERRCODE = '57P03'; END $$`);
    await pool.query(`CREATE TRIGGER rewards_test_hold BEFORE UPDATE OR INSERT ON projection_checkpoints
      FOR EACH ROW WHEN (NEW.projection = 'rewards.earning') EXECUTE FUNCTION rewards_test_hold()`);
    try {
      await grant(userId, 7);
      await eventually(async () => (await readiness(projectorRole)).status === 503);
      await eventually(async () => ((await readiness(allInOne)).body.details.projections['rewards.earning']?.lagMs ?? 0) > 100);
      const all = await readiness(allInOne);
      expect(all.status).toBe(200);
      expect(all.body.details.projections['rewards.earning']).toMatchObject({ gatesReadiness: false });
      expect((await readiness(h.rewards)).status).toBe(200);
      // Both keep answering from what is earned so far, and take writes.
      expect(await balanceOf(userId)).toBe(5);
      const viaAll = await allInOne.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
      expect({ status: viaAll.status, balance: viaAll.body.balance }).toEqual({ status: 200, balance: 5 });
    } finally {
      await pool.query('DROP TRIGGER rewards_test_hold ON projection_checkpoints');
    }
    await eventually(async () => (await readiness(projectorRole)).status === 200);
    await eventually(async () => (await balanceOf(userId)) === 12);
  });

  test("each role reports the event store's head age: how long an open transaction has held stored events back", async () => {
    const headAge = async (app: RewardsApp) => {
      const text = (await app.http().get('/metrics')).text;
      // Labelled with the service, as every metric is.
      const sample = /^tessera_eventstore_head_age_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
      return sample ? Number(sample[1]) : undefined;
    };
    const projectorRole = await projector();
    const holder = new Client({ connectionString: h.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_current_xact_id()');
      // Appended after the holder began: no subscription reads it while the holder is open.
      await grant(`aged-${randomBytes(6).toString('hex')}`, 1);
      await eventually(async () => ((await headAge(h.rewards)) ?? 0) >= 0.5);
      expect(await headAge(projectorRole)).toBeGreaterThanOrEqual(0.5);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Other tests' transactions on this server hold the log back too, briefly.
    await eventually(async () => (await headAge(h.rewards)) === 0);
  });
});
