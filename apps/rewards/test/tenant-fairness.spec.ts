import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { eventually } from '#platform/testing';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

type Response = { status: number; headers: Record<string, string>; body: Record<string, unknown> };

function expectRateLimited(response: Response) {
  expect(response.status).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.body.type).toBe('https://tessera.dev/problems/rate-limited');
  expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

/** One tenant hammering rewards gets 429 with Retry-After; another tenant's calls go on as if it were alone. */
describe("a tenant's share of rewards", () => {
  describe('writes per second', () => {
    let h: RewardsHarness;
    let noisy: Tenant;
    let quiet: Tenant;

    beforeAll(async () => {
      // One write a second after a burst of 4: the program, then whatever is left.
      h = await startRewards({ env: { REWARDS_TENANT_WRITES_PER_SECOND: '1', REWARDS_TENANT_WRITE_BURST: '4' } });
      [noisy, quiet] = [await h.createTenant(), await h.createTenant()];
      for (const tenant of [noisy, quiet])
        expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
    });
    afterAll(() => h.close());

    const createReward = (tenant: Tenant) =>
      h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 10, stock: 100 });
    const redeem = (tenant: Tenant, userId: string, rewardId: string) =>
      h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${userId}/redemptions`)
        .set(auth(tenant))
        .set('idempotency-key', randomUUID())
        .send({ rewardId });

    test("catalog writes and redemptions hammered by one tenant answer it 429; the other tenant's succeed meanwhile", async () => {
      const noisyMember = `m-${randomUUID()}`;
      const quietMember = `m-${randomUUID()}`;
      await h.track(noisy, noisyMember, 'Grant', { points: 1000 });
      await h.track(quiet, quietMember, 'Grant', { points: 1000 });
      const noisyReward = await createReward(noisy);
      expect(noisyReward.status).toBe(201);

      const hammering = [
        ...Array.from({ length: 15 }, () => createReward(noisy)),
        ...Array.from({ length: 15 }, () => redeem(noisy, noisyMember, noisyReward.body.id as string)),
      ];
      const quietReward = await createReward(quiet);
      const quietRedemption = await redeem(quiet, quietMember, quietReward.body.id as string);
      const hammered = await Promise.all(hammering);

      expect([quietReward.status, quietRedemption.status]).toEqual([201, 201]);
      const limited = hammered.filter((response) => response.status === 429);
      expect(limited.length).toBeGreaterThanOrEqual(20);
      for (const response of limited) expectRateLimited(response as Response);
      for (const response of hammered.filter((r) => r.status !== 429)) expect(response.status).toBe(201);
      // Reads are not writes: the noisy tenant still sees its own catalog.
      expect((await h.rewards.http().get(`/t/${noisy.slug}/rewards`).set(auth(noisy))).status).toBe(200);
    });

    test("another tenant's key spends nothing of a tenant's budget", async () => {
      const victim = await h.createTenant();
      const refused = await Promise.all(
        Array.from({ length: 10 }, () =>
          h.rewards.http().post(`/t/${victim.slug}/rewards`).set(auth(noisy)).send({ name: 'Mug', cost: 10, stock: 1 }),
        ),
      );
      expect(new Set(refused.map((r) => r.status))).toEqual(new Set([403]));
      expect((await createReward(victim)).status).toBe(201);
    });
  });

  describe('calls in flight', () => {
    let h: RewardsHarness;
    let noisy: Tenant;
    let quiet: Tenant;

    beforeAll(async () => {
      h = await startRewards({ env: { REWARDS_TENANT_CONCURRENCY: '1' } });
      [noisy, quiet] = [await h.createTenant(), await h.createTenant()];
    });
    afterAll(() => h.close());

    test("a tenant whose call is still running is refused a second one; another tenant's calls run", async () => {
      const readModels = h.rewards.app.get(ProjectionRunner);
      // A catalog write answers once the read models show it: with them stopped, it holds its slot.
      await readModels.stop();
      const rewardsBefore = await h.storedEvents(`rewards.reward-${noisy.id}`);
      const held = h.rewards.http().post(`/t/${noisy.slug}/rewards`).set(auth(noisy)).send({ name: 'Mug', cost: 10, stock: 1 });
      const pending = held.then((response) => response);
      // The write has its slot once its reward is stored (it then waits on the stopped read models).
      // Asking before that could take the slot first and refuse the write instead: that race made
      // this test flaky while it polled with reads.
      await eventually(async () => expect(await h.storedEvents(`rewards.reward-${noisy.id}`)).toBeGreaterThan(rewardsBefore), {
        what: 'the held write to store its reward',
        timeoutMs: 30_000,
      });
      const second = (await h.rewards.http().get(`/t/${noisy.slug}/rewards/${randomUUID()}`).set(auth(noisy))) as unknown as Response;
      expectRateLimited(second);
      expect((await h.rewards.http().get(`/t/${quiet.slug}/rewards`).set(auth(quiet))).status).toBe(200);
      readModels.start();
      expect((await pending).status).toBe(201);
      expect((await h.rewards.http().get(`/t/${noisy.slug}/rewards`).set(auth(noisy))).status).toBe(200);
    });
  });
});
