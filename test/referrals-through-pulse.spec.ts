import { randomUUID } from 'node:crypto';
import type { ProjectionRunner } from '#cqrs';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from '../apps/pulse/test/pulse-harness';
import { REFERRALS_PROJECTION } from '../apps/rewards/src/referral/referrals';
import { RUNNERS } from '../apps/rewards/src/rewards.module';
import { auth, PROGRAM, startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';
import { issueServerKey } from './support/server-key';

/**
 * Referrals end to end: the shop's backend tracks a referee's order through pulse's Segment API
 * with the referrer's code in `properties.referral_code`, and rewards both members once.
 */
describe('referrals tracked through pulse', () => {
  let pulse: PulseHarness;
  let rewards: RewardsApp;
  let tenant: Tenant;
  let serverKey: string;

  beforeAll(async () => {
    pulse = await startPulse();
    rewards = await startRewardsApp(pulse.databaseUrl, pulse.masterKey);
    tenant = await pulse.createTenant();
    serverKey = await issueServerKey(pulse.register, pulse.url, tenant.slug);
    const program = {
      ...PROGRAM,
      tiers: null,
      referrals: { qualifyingEvent: 'Order Completed', referrerPoints: 100, refereePoints: 50, maxPerReferrer: 2 },
    };
    expect((await rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(program)).status).toBe(200);
  });
  afterAll(async () => {
    await rewards?.close();
    await pulse?.close();
  });

  const balanceOf = async (userId: string) =>
    ((await rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant))).body as { balance?: number }).balance;
  const track = (key: string, body: object) =>
    fetch(`${pulse.url}/v1/track`, {
      method: 'POST',
      headers: { authorization: basic(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const order = (userId: string, code: string, total = 10, key = serverKey) =>
    track(key, { userId, event: 'Order Completed', properties: { total, currency: 'EUR', referral_code: code } });
  /** Resolves once the referrals projection has seen everything stored so far. */
  const referralsCaughtUp = async () => {
    const head = await rewards.runtime.infrastructure.eventStore.headPosition();
    const runners = rewards.app.get<ProjectionRunner[]>(RUNNERS);
    await runners.find((runner) => runner.name === REFERRALS_PROJECTION)!.waitFor(head!);
  };
  const codeOf = async (userId: string) => {
    const answer = await rewards.http().get(`/t/${tenant.slug}/members/${userId}/referral-code`).set(auth(tenant));
    expect(answer.status).toBe(200);
    return answer.body as { code: string; referees: number };
  };

  test("a referee's order from the shop's backend rewards both sides once; the code stays the same", async () => {
    const [ann, bob] = [`ann-${randomUUID()}`, `bob-${randomUUID()}`];
    expect((await track(serverKey, { userId: ann, event: 'Grant', properties: { points: 1 } })).status).toBe(200);
    await eventually(async () => (await balanceOf(ann)) === 1);
    const { code } = await codeOf(ann);
    expect(code).toMatch(/^R[A-Z2-9]{9}$/);
    expect((await codeOf(ann)).code).toBe(code);

    expect((await order(bob, code, 10)).status).toBe(200);
    await eventually(async () => (await balanceOf(ann)) === 101 && (await balanceOf(bob)) === 60);
    // A second order naming the code earns its own points, and no second referral.
    expect((await order(bob, code, 5)).status).toBe(200);
    await eventually(async () => (await balanceOf(bob)) === 65);
    await referralsCaughtUp();
    expect(await balanceOf(ann)).toBe(101);
    expect(await codeOf(ann)).toMatchObject({ code, referees: 1 });
  });

  test('a referrer naming their own code, a client source, and referees past the limit earn no referral', async () => {
    const [ann, bob, cat, dan, eve] = ['ann', 'bob', 'cat', 'dan', 'eve'].map((name) => `${name}-${randomUUID()}`) as [
      string,
      string,
      string,
      string,
      string,
    ];
    expect((await track(serverKey, { userId: ann, event: 'Grant', properties: { points: 1 } })).status).toBe(200);
    await eventually(async () => (await balanceOf(ann)) === 1);
    const { code } = await codeOf(ann);
    // Self-referral: the order earns its 10 points, no referral.
    expect((await order(ann, code, 10)).status).toBe(200);
    // The public write key: anyone could send this; it earns nothing here (the order rule trusts server sources only).
    expect((await order(eve, code, 10, tenant.writeKey)).status).toBe(200);
    expect((await order(bob, code)).status).toBe(200);
    expect((await order(cat, code)).status).toBe(200);
    // Past maxPerReferrer (2): the order earns, the referral does not.
    expect((await order(dan, code)).status).toBe(200);
    await eventually(async () => (await balanceOf(dan)) === 10);
    await referralsCaughtUp();
    expect(await balanceOf(ann)).toBe(1 + 10 + 2 * 100);
    expect([await balanceOf(bob), await balanceOf(cat), await balanceOf(dan)]).toEqual([60, 60, 10]);
    expect(await balanceOf(eve)).toBe(0);
  });
});
