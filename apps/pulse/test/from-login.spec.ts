import { randomUUID } from 'node:crypto';
import { EventCodec, EventRegistry } from '#cqrs';
import { blindIndex } from '#personal-data';
import { LoginSucceeded, signInStreamFor } from '#contracts';
import { readEvents, usePulse, type PulseHarness, type Tenant } from './pulse-harness';

/** Appends LoginSucceeded the way login does: its own codec, its sign-in stream. */
async function signIn(pulse: PulseHarness, tenant: Tenant, userId: string, email: string, clientId: string): Promise<void> {
  const { infrastructure } = pulse.runtime;
  const loginCodec = new EventCodec(new EventRegistry([LoginSucceeded]), infrastructure.personalData);
  const accountKey = blindIndex(infrastructure.blindIndexKey, tenant.id, 'email', email);
  const at = new Date().toISOString();
  const event = await loginCodec.encode(LoginSucceeded({ accountKey, userId, clientId, at }), {
    tenantId: tenant.id,
    correlationId: randomUUID(),
    now: new Date(at),
  });
  await pulse.runtime.store.appendToStream(signInStreamFor(tenant.id, accountKey), [event]);
}

describe("login's sign-ins on the person's pulse profile", () => {
  const h = usePulse();

  test('LoginSucceeded becomes a "Signed In" track event on the profile of the signed-up person', async () => {
    const email = `grace-${randomUUID()}@example.com`;
    const { id: userId } = await h.pulse.register.signUp(h.tenant.slug, email);
    await signIn(h.pulse, h.tenant, userId, email, 'shop-web');
    await signIn(h.pulse, h.tenant, userId, email, 'shop-ios');
    await h.pulse.profilesCaughtUp();

    const profile = await h.profile('email', email);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({
      userId,
      counters: { total: 3, events: { 'Signed Up': { count: 1 }, 'Signed In': { count: 2 } } },
    });
    const events = await h.profileEvents('userId', userId);
    expect(events.body.events.slice(0, 2)).toEqual([
      expect.objectContaining({ type: 'track', name: 'Signed In', properties: { clientId: 'shop-ios' } }),
      expect.objectContaining({ type: 'track', name: 'Signed In', properties: { clientId: 'shop-web' } }),
    ]);
  });

  test('a sign-in shows in the live view as it happens', async () => {
    const userId = `u-${randomUUID()}`;
    const controller = new AbortController();
    const response = await fetch(`${h.pulse.url}/t/${h.tenant.slug}/live?event=Signed%20In&userId=${userId}`, {
      headers: { authorization: `Bearer ${h.tenant.apiKey}` },
      signal: controller.signal,
    });
    const reading = readEvents(response, 1);
    await signIn(h.pulse, h.tenant, userId, `${userId}@example.com`, 'shop-web');
    const [event] = await reading;
    controller.abort();
    expect(event).toMatchObject({ type: 'track', name: 'Signed In', userId });
  });
});
