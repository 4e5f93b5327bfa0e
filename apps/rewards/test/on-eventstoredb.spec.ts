import { randomUUID } from 'node:crypto';
import { startEsdbEmulator } from '#eventstore/testing';
import { walletStreamFor } from '../src/rewards.streams';
import { auth, PROGRAM, startRewards, type RewardsHarness } from './rewards-harness';

/** Rewards unchanged on EventStoreDB: the real client against the protocol emulator, read models in PostgreSQL. */
describe('rewards on EventStoreDB', () => {
  let emulator: { url: string; stop(): Promise<void> };
  let h: RewardsHarness;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
    h = await startRewards({ eventstoreUrl: emulator.url });
  });
  afterAll(async () => {
    await h?.close();
    await emulator?.stop();
  });

  test('sign-up and tracked events earn once, and parallel redemptions never overdraw', async () => {
    const tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    const userId = await h.signUp(tenant);
    const messageId = randomUUID();
    await h.track(tenant, userId, 'Grant', { points: 450 }, messageId);
    await h.track(tenant, userId, 'Grant', { points: 450 }, messageId);
    const member = await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
    expect(member.body).toMatchObject({ balance: 500, tier: 'silver' });

    const rewardId = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Cap', cost: 100, stock: 3 }))
      .body.id;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.rewards
          .http()
          .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
          .set(auth(tenant))
          .set('idempotency-key', randomUUID())
          .send({ rewardId }),
      ),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(3);
    expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance).toBe(200);
    const tables = await h.rewards.runtime.infrastructure.pool.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'es_events'",
    );
    expect(tables.rows[0].n).toBe(0);
  });

  test('a transfer is two appends here (no atomic multi-stream append): the points move once', async () => {
    expect(h.rewards.runtime.infrastructure.eventStore.appendToStreamsExpecting).toBeUndefined();
    const tenant = await h.createTenant();
    const program = { ...PROGRAM, transfers: { maxPointsPerTransfer: 1000, minBalanceAfter: 0 } };
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(program)).status).toBe(200);
    const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
    await h.track(tenant, alice, 'Grant', { points: 100 });
    await h.track(tenant, bob, 'Grant', { points: 1 });
    const key = randomUUID();
    const send = () =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${alice}/transfers`)
        .set(auth(tenant))
        .set('idempotency-key', key)
        .send({ to: bob, points: 40 });
    const first = await send();
    expect([first.status, first.body.status]).toEqual([201, 'credited']);
    expect((await send()).body).toEqual(first.body);
    const balance = async (userId: string) =>
      (await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance;
    expect([await balance(alice), await balance(bob)]).toEqual([60, 41]);
  });

  test('a crash between the wallet appends and the checkpoint replays the batch, and the replay earns nothing twice', async () => {
    const tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    const members = [1, 2, 3].map((n) => `crash-${n}-${randomUUID()}`);
    const wallet = (userId: string) => h.rewards.runtime.infrastructure.eventStore.readStream(walletStreamFor(tenant.id, userId));
    const { last, lift } = await h.earnThroughFailingCheckpoints(tenant, members);
    // EventStoreDB has no transaction with the checkpoint: the first attempt's appends stay, the replay adds nothing.
    for (const userId of members) expect((await wallet(userId)).length).toBe(4);
    await lift();
    await h.rewards.earning.waitFor(last);
    h.rewards.earningProjection.effectListeners.length = 0;
    for (const userId of members) {
      expect((await wallet(userId)).map((event) => event.type)).toEqual(['MemberEnrolled', 'PointsEarned', 'TierChanged', 'PointsEarned']);
      expect((await h.rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body.balance).toBe(15);
    }
  });
});
