import { eventually } from '#platform/testing';
import * as oidc from 'openid-client';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI, signInThroughPages } from './sign-in-flow';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;
const LIFETIME_S = 30;
/** oidc-provider still accepts a stored session this long past its expiry (its default clockTolerance). */
const CLOCK_TOLERANCE_S = 15;
const PAST_LIFETIME_MS = (LIFETIME_S + CLOCK_TOLERANCE_S + 1) * 1000 + 100;

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
  // oidc-provider counts lifetimes in whole seconds from a floored issue time, so a 1 s lifetime can end
  // a millisecond after issue; these outlast any sign-in, and the tests move the clock past them.
  login = await startLogin({
    AUTHORIZATION_CODE_TTL_S: String(LIFETIME_S),
    SESSION_TTL_S: String(LIFETIME_S),
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
    advanceClock(PAST_LIFETIME_MS);
    await expect(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state })).rejects.toMatchObject(
      { error: 'invalid_grant' },
    );
  });

  it('keeps an offline refresh token working after the session has expired', async () => {
    const { callback, verifier, state, browser } = await signInThroughPages(slug, config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const code_challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
    const silently = () =>
      browser.follow(
        oidc.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          prompt: 'none',
          code_challenge,
          code_challenge_method: 'S256',
        }).href,
        REDIRECT_URI,
      );
    expect((await silently()).location).toMatch(/[?&]code=/);
    advanceClock(PAST_LIFETIME_MS);
    expect((await silently()).location).toMatch(/[?&]error=login_required/);
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
