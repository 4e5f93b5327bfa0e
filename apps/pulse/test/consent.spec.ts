import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { hostileText } from '../../../test/support/hostile-values';
import { eventually, startPulse, basic, type PulseHarness, type Tenant } from './pulse-harness';

const RULES = {
  rules: [
    { purpose: 'marketing', events: ['Email Opened', 'Ad Clicked'] },
    { purpose: 'analytics', kinds: ['page'] },
  ],
  segmentCategories: { Advertising: 'marketing' },
};

/**
 * Consent reaches tracking: a tenant maps its tracked events to consent purposes; once a person
 * withdraws a purpose in register, pulse acknowledges and drops their messages for it (they never
 * reach the event store, so nothing downstream sees them), and Segment's consent object does the
 * same for anonymous visitors. Messages serving no purpose, or of tenants without rules, pass.
 */
describe('consent-aware tracking', () => {
  let pulse: PulseHarness;
  let tenant: Tenant;
  beforeAll(async () => {
    pulse = await startPulse();
    tenant = await pulse.createTenant();
  });
  afterAll(() => pulse?.close());

  const purposesOf = (t: Tenant) => `/t/${t.slug}/tracking-purposes`;
  const setRules = (t: Tenant, body: unknown) =>
    pulse
      .http()
      .put(purposesOf(t))
      .set('authorization', `Bearer ${t.apiKey}`)
      .send(body as object);
  const stored = async (t: Tenant) => pulse.storedMessageIds(t.id);
  /** Sends messages in one batch; returns their messageIds, in order. */
  async function track(t: Tenant, messages: object[]): Promise<string[]> {
    const batch = messages.map((message) => ({ messageId: randomUUID(), ...message }));
    await pulse.http().post('/v1/batch').set('authorization', basic(t.writeKey)).send({ batch }).expect(200);
    return batch.map((message) => message.messageId);
  }
  const withdraw = async (userId: string, purpose: string) =>
    pulse.register
      .http()
      .delete(`/t/${tenant.slug}/me/consents/${purpose}`)
      .set('authorization', `Bearer ${await pulse.register.tokenFor(tenant.id, userId)}`)
      .expect(204);
  const grant = async (userId: string, purpose: string) =>
    pulse.register
      .http()
      .put(`/t/${tenant.slug}/me/consents/${purpose}`)
      .set('authorization', `Bearer ${await pulse.register.tokenFor(tenant.id, userId)}`)
      .send({ policyVersion: 'v2' })
      .expect(200);
  /** Probes with the purpose until one is dropped: the withdrawal has reached ingest (projection, then cache). */
  const untilDropped = (userId: string, event: string) =>
    eventually(
      async () => {
        const [probe] = await track(tenant, [{ type: 'track', userId, event }]);
        expect((await stored(tenant)).has(probe!)).toBe(false);
      },
      { what: 'the withdrawal to reach ingest', timeoutMs: 15_000 },
    );

  test('the rules are set and read with the API key; a malformed rule is a 400 naming it, and nothing is stored', async () => {
    expect((await setRules(tenant, RULES)).status).toBe(200);
    const read = await pulse.http().get(purposesOf(tenant)).set('authorization', `Bearer ${tenant.apiKey}`).expect(200);
    expect(read.body).toEqual({ ...RULES, requireGrant: [] });
    expect((await pulse.http().get(purposesOf(tenant)).set('authorization', `Bearer ${tenant.writeKey}`)).status).toBe(401);
    const bad = await setRules(tenant, { rules: [{ purpose: 'Marketing!', events: ['Email Opened'] }] });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual(['/rules/0/purpose']);
    expect((await pulse.http().get(purposesOf(tenant)).set('authorization', `Bearer ${tenant.apiKey}`)).body).toEqual({
      ...RULES,
      requireGrant: [],
    });
  });

  test('whatever a body holds, setting rules answers 200 or a 4xx problem, never a 5xx', async () => {
    const other = await pulse.createTenant();
    const rule = fc.record({
      purpose: fc.oneof(fc.constant('analytics'), hostileText()),
      events: fc.array(hostileText(), { maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(rule, { maxLength: 3 }),
        fc.dictionary(hostileText(), hostileText(), { maxKeys: 3 }),
        async (rules, categories) => {
          const response = await setRules(other, { rules, segmentCategories: categories });
          expect(response.status === 200 || (response.status >= 400 && response.status < 500)).toBe(true);
          if (response.status >= 400) expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a person who withdrew marketing is not tracked for it; other purposes and purpose-less calls are; a new grant resumes it', async () => {
    expect((await setRules(tenant, RULES)).status).toBe(200);
    const { id: userId } = await pulse.register.signUp(tenant.slug, `reader-${randomUUID()}@example.com`, {
      consents: [{ purpose: 'marketing', policyVersion: 'v1' }],
    });
    const before = await track(tenant, [{ type: 'track', userId, event: 'Email Opened' }]);
    expect((await stored(tenant)).get(before[0]!)).toBe(1);

    await withdraw(userId, 'marketing');
    await untilDropped(userId, 'Email Opened');
    const [opened, ordered, page, identified] = await track(tenant, [
      { type: 'track', userId, event: 'Email Opened' },
      { type: 'track', userId, event: 'Order Completed' },
      { type: 'page', userId, name: 'Pricing' },
      { type: 'identify', userId, traits: { plan: 'pro' } },
    ]);
    const now = await stored(tenant);
    expect([now.has(opened!), now.has(ordered!), now.has(page!), now.has(identified!)]).toEqual([false, true, true, true]);

    await grant(userId, 'marketing');
    await eventually(
      async () => {
        const [probe] = await track(tenant, [{ type: 'track', userId, event: 'Ad Clicked' }]);
        expect((await stored(tenant)).has(probe!)).toBe(true);
      },
      { what: 'the new grant to reach ingest', timeoutMs: 15_000 },
    );
  });

  test("an anonymous visitor's own consent object refuses a purpose through the mapped category or the purpose's own name", async () => {
    const anonymousId = `visitor-${randomUUID()}`;
    const preferences = (categoryPreferences: object) => ({ consent: { categoryPreferences } });
    const [refusedAd, allowedAd, refusedPage, unrelated] = await track(tenant, [
      { type: 'track', anonymousId, event: 'Ad Clicked', context: preferences({ Advertising: false, Analytics: true }) },
      { type: 'track', anonymousId, event: 'Ad Clicked', context: preferences({ Advertising: true }) },
      { type: 'page', anonymousId, name: 'Home', context: preferences({ Analytics: false }) },
      { type: 'track', anonymousId, event: 'Signed Up', context: preferences({ Advertising: false, Analytics: false }) },
    ]);
    const now = await stored(tenant);
    expect([now.has(refusedAd!), now.has(allowedAd!), now.has(refusedPage!), now.has(unrelated!)]).toEqual([false, true, false, true]);
  });

  test('a purpose that needs consent given is tracked only for people who granted it, or whose own consent object allows it', async () => {
    const optIn = { ...RULES, requireGrant: ['marketing'] };
    expect((await setRules(tenant, optIn)).status).toBe(200);
    expect((await pulse.http().get(purposesOf(tenant)).set('authorization', `Bearer ${tenant.apiKey}`)).body).toEqual(optIn);
    const { id: userId } = await pulse.register.signUp(tenant.slug, `silent-${randomUUID()}@example.com`);
    const anonymousId = `visitor-${randomUUID()}`;
    const [opened, ordered, page, adUnsaid, adAllowed, trackedOnly] = await track(tenant, [
      { type: 'track', userId, event: 'Email Opened' },
      { type: 'track', userId, event: 'Order Completed' },
      { type: 'page', userId, name: 'Pricing' },
      { type: 'track', anonymousId, event: 'Ad Clicked' },
      { type: 'track', anonymousId, event: 'Ad Clicked', context: { consent: { categoryPreferences: { Advertising: true } } } },
      { type: 'track', userId: `crm-${randomUUID()}`, event: 'Email Opened' },
    ]);
    const now = await stored(tenant);
    expect([opened, ordered, page, adUnsaid, adAllowed, trackedOnly].map((id) => now.has(id!))).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
    ]);

    await grant(userId, 'marketing');
    await eventually(
      async () => {
        const [probe] = await track(tenant, [{ type: 'track', userId, event: 'Email Opened' }]);
        expect((await stored(tenant)).has(probe!)).toBe(true);
      },
      { what: 'the grant to reach ingest', timeoutMs: 15_000 },
    );
    expect((await setRules(tenant, RULES)).status).toBe(200);
  });

  test('an anonymous message from a device profiles tied to a person who withdrew is dropped too; an unknown device is not', async () => {
    expect((await setRules(tenant, RULES)).status).toBe(200);
    const { id: userId } = await pulse.register.signUp(tenant.slug, `signed-out-${randomUUID()}@example.com`, {
      consents: [{ purpose: 'marketing', policyVersion: 'v1' }],
    });
    const device = `laptop-${randomUUID()}`;
    await track(tenant, [{ type: 'identify', userId, anonymousId: device }]);
    await pulse.profilesCaughtUp();
    await withdraw(userId, 'marketing');
    await untilDropped(userId, 'Email Opened');
    const [fromTheirDevice, fromAnother] = await track(tenant, [
      { type: 'track', anonymousId: device, event: 'Email Opened' },
      { type: 'track', anonymousId: `phone-${randomUUID()}`, event: 'Email Opened' },
    ]);
    const now = await stored(tenant);
    expect([now.has(fromTheirDevice!), now.has(fromAnother!)]).toEqual([false, true]);
  });

  test('a tenant without rules tracks everything, consent object or not', async () => {
    const plain = await pulse.createTenant();
    const ids = await track(plain, [
      { type: 'track', anonymousId: 'a', event: 'Ad Clicked', context: { consent: { categoryPreferences: { Advertising: false } } } },
    ]);
    expect((await stored(plain)).has(ids[0]!)).toBe(true);
  });

  test('what was dropped is counted, never stored', async () => {
    const metrics = await pulse.http().get('/metrics').expect(200);
    const dropped = /tessera_tracking_messages_suppressed_total\{[^}]*reason="consent"[^}]*\} (\d+)/.exec(metrics.text);
    expect(Number(dropped?.[1])).toBeGreaterThanOrEqual(3);
  });
});
