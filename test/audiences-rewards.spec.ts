import { randomUUID } from 'node:crypto';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from '../apps/pulse/test/pulse-harness';
import { auth, PROGRAM, startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';
import { issueServerKey } from './support/server-key';

/**
 * Rewards earning on pulse's audiences, wired as deployed (one database, one master key): a program
 * rule on `Audience Entered` with a condition on `audience_key` earns when pulse writes that a person
 * entered the audience. Pulse writes it as a server source, the tenant's own definition evaluated by
 * pulse, so the rule needs no client sources; the calls that put the person in came from a page.
 */
describe('earning on entering an audience', () => {
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
      rules: [
        ...PROGRAM.rules,
        {
          id: 'became-vip',
          event: 'Audience Entered',
          conditions: [{ property: 'audience_key', op: 'eq', value: 'vip' }],
          award: { kind: 'fixed', points: 500 },
        },
        {
          id: 'became-buyer',
          event: 'Audience Entered',
          conditions: [{ property: 'audience_key', op: 'eq', value: 'buyers' }],
          award: { kind: 'fixed', points: 70 },
        },
      ],
    };
    expect((await rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(program)).status).toBe(200);
    const serverOrders = { key: 'server_orders', definition: { kind: 'count', event: 'Paid', windowDays: 30, sources: ['server'] } };
    const trait = await pulse
      .http()
      .post(`/t/${tenant.slug}/computed-traits`)
      .set('authorization', `Bearer ${tenant.apiKey}`)
      .send(serverOrders);
    expect(trait.status).toBe(201);
    for (const [key, rule] of [
      ['vip', { trait: 'tier', op: 'eq', value: 'vip' }],
      ['pro', { trait: 'plan', op: 'eq', value: 'pro' }],
      ['buyers', { computed: 'server_orders', op: 'gte', value: 1 }],
    ] as const) {
      const defined = await pulse
        .http()
        .post(`/t/${tenant.slug}/audiences`)
        .set('authorization', `Bearer ${tenant.apiKey}`)
        .send({ key, name: key, rule });
      expect(defined.status).toBe(201);
    }
  });
  afterAll(async () => {
    await rewards?.close();
    await pulse?.close();
  });

  const balanceOf = async (userId: string) => {
    const response = await rewards.http().get(`/t/${tenant.slug}/members/${userId}`).set(auth(tenant));
    return response.status === 200 ? (response.body as { balance: number }).balance : undefined;
  };
  const identify = (userId: string, traits: object) =>
    pulse
      .http()
      .post('/v1/identify')
      .set('authorization', basic(tenant.writeKey))
      .send({ userId, traits, messageId: randomUUID() })
      .expect(200);

  test('entering the audience the rule names earns its points, once; entering another earns nothing', async () => {
    const userId = `member-${randomUUID()}`;
    await identify(userId, { plan: 'pro' });
    await identify(userId, { tier: 'vip' });
    await eventually(async () => (await balanceOf(userId)) === 500);
    // Still in: a later identify writes no second entry, so nothing more is earned.
    await identify(userId, { tier: 'vip', plan: 'pro' });
    const witness = `witness-${randomUUID()}`;
    await identify(witness, { tier: 'vip' });
    await eventually(async () => (await balanceOf(witness)) === 500);
    expect(await balanceOf(userId)).toBe(500);
  });

  test('a computed trait of server sources only counts what the tenant’s servers sent: a page cannot buy its way in', async () => {
    const userId = `buyer-${randomUUID()}`;
    const paid = (key: string) =>
      pulse.http().post('/v1/track').set('authorization', basic(key)).send({ userId, event: 'Paid', messageId: randomUUID() }).expect(200);
    await paid(tenant.writeKey);
    await pulse.profilesCaughtUp();
    const profile = await pulse.http().get(`/t/${tenant.slug}/profiles/userId/${userId}`).set('authorization', `Bearer ${tenant.apiKey}`);
    expect(profile.body).toMatchObject({ computedTraits: { server_orders: 0 }, audiences: [] });
    await paid(serverKey);
    await eventually(async () => (await balanceOf(userId)) === 70);
  });
});
