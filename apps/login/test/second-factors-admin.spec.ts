import { generateSync } from 'otplib';
import { SecondFactors } from '../src/mfa/second-factors';
import { factorsStreamFor } from '../src/mfa/factors.events';
import { startLogin, type LoginHarness } from './login-harness';

let login: LoginHarness;
let tenant: { id: string; slug: string };

beforeAll(async () => {
  login = await startLogin();
  tenant = await login.createTenant();
});

afterAll(() => login?.close());

const reset = (slug: string, userId: string, token?: string) =>
  fetch(`${login.url}/admin/tenants/${slug}/users/${userId}/second-factors`, {
    method: 'DELETE',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

describe('an operator’s reset of a person’s second factors', () => {
  test('removes every factor with the admin token only, and is recorded on the person’s factors stream', async () => {
    const { id } = await login.signUp(tenant.slug, 'lost-phone@example.com');
    const factors = login.app.get(SecondFactors);
    await factors.startTotp(tenant.id, id);
    const secret = (await factors.pendingSecret(tenant.id, id))!;
    const confirmed = await factors.confirmTotp(tenant.id, id, generateSync({ secret, epoch: Math.floor(Date.now() / 1000) }));
    expect('recoveryCodes' in confirmed).toBe(true);
    expect(await factors.required(tenant.id, id)).toBe(true);

    expect((await reset(tenant.slug, id)).status).toBe(401);
    expect((await reset(tenant.slug, id, 'x'.repeat(40))).status).toBe(403);
    expect(await factors.required(tenant.id, id)).toBe(true);

    expect((await reset(tenant.slug, id, login.adminToken)).status).toBe(204);
    expect(await factors.required(tenant.id, id)).toBe(false);
    expect(await factors.verify(tenant.id, id, generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }))).toEqual({
      ok: false,
      reason: 'not-enrolled',
    });
    // Nothing left: a second reset records nothing.
    expect((await reset(tenant.slug, id, login.adminToken)).status).toBe(204);
    const events = await login.runtime.infrastructure.eventStore.readStream(factorsStreamFor(tenant.id, id));
    expect(events.map((event) => event.type).filter((type) => type === 'SecondFactorsReset')).toHaveLength(1);
  });

  test('an unknown tenant or person is a 404, and nothing is recorded', async () => {
    expect((await reset('no-such-tenant', '01a24a62-52c5-7172-8699-4c5d5f6dfff0', login.adminToken)).status).toBe(404);
    const unknown = '01a24a62-52c5-7172-8699-4c5d5f6dfff1';
    const answer = await reset(tenant.slug, unknown, login.adminToken);
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await login.runtime.infrastructure.eventStore.readStream(factorsStreamFor(tenant.id, unknown))).toEqual([]);
  });
});
