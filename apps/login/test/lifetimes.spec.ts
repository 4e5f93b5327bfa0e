import { eventually } from '#platform/testing';
import * as oidc from 'openid-client';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI, signInThroughPages } from './sign-in-flow';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

/**
 * Moves the clock the provider and the client read (Date) past a lifetime without waiting it out;
 * timers, I/O and the database keep real time.
 */
function advanceClock(ms: number): void {
  jest.useFakeTimers({
    now: Date.now() + ms,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}

afterEach(() => jest.useRealTimers());

beforeAll(async () => {
  login = await startLogin({
    AUTHORIZATION_CODE_TTL_S: '1',
    SESSION_TTL_S: '1',
    LOGIN_UNVERIFIED_EMAIL_TENANTS: 'strict-shop=refuse',
    LOGIN_IP_FAILURE_LIMIT: '3',
  });
  slug = (await login.createTenant('strict-shop')).slug;
  const { clientId } = await login.registerClient(slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

afterAll(() => login?.close());

describe('policies and lifetimes', () => {
  it("refuses an unverified e-mail when the tenant's policy says so, and accepts it once verified", async () => {
    await login.signUp(slug, 'ada@example.com');
    const { browser, form } = await openSignInPage(config);
    const refused = await browser.request(form.action, { form: { ...form.fields, email: 'ada@example.com', password: STRONG_PASSWORD } });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Confirm your e-mail address');

    const token = await login.register.mailedToken('ada@example.com', /confirm your e-mail/);
    await login.register.http().post(`/t/${slug}/email-verifications`).send({ token }).expect(200);
    await eventually(
      async () => (await login.runtime.infrastructure.pool.query('SELECT 1 FROM login_credentials WHERE email_verified')).rows.length > 0,
    );
    const accepted = await browser.request(form.action, { form: { ...form.fields, email: 'ada@example.com', password: STRONG_PASSWORD } });
    expect(accepted.status).toBe(303);
  });

  it('refuses an expired authorization code', async () => {
    const { callback, verifier, state } = await signInThroughPages(slug, config);
    advanceClock(2100);
    await expect(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject(
      { error: 'invalid_grant' },
    );
  });

  it('keeps an offline refresh token working after the session has expired', async () => {
    const { callback, verifier, state } = await signInThroughPages(slug, config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    advanceClock(2100);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  // Last: it leaves this client address throttled for the tenant.
  it('throttles a client address that keeps failing, whichever accounts it tries', async () => {
    const { browser, form } = await openSignInPage(config);
    for (let i = 0; i < 3; i++) {
      const wrong = await browser.request(form.action, {
        form: { ...form.fields, email: `sprayed${i}@example.com`, password: 'Password123' },
      });
      expect(wrong.status).toBe(401);
    }
    const throttled = await browser.request(form.action, { form: { ...form.fields, email: 'ada@example.com', password: STRONG_PASSWORD } });
    expect(throttled.status).toBe(429);
  });
});
