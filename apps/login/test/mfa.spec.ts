import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import type { Page } from 'playwright-core';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { ACR_MFA, ACR_PASSWORD } from '../src/mfa/second-factor-step';
import { authorizeIn, CHROMIUM, describeInBrowser, inBrowser } from './chromium';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin({ LOGIN_LOCKOUT_THRESHOLD: '3' });
  slug = (await login.createTenant()).slug;
  const { clientId } = await login.registerClient(slug, { name: 'MFA app', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

afterAll(() => login?.close());

/** What an authenticator app shows `aheadS` seconds from now (otplib, not the server's library). */
const appCode = (key: string, aheadS = 0) => generateSync({ secret: key, epoch: Math.floor(Date.now() / 1000) + aheadS });

/** Starts an authorization in `page`; `finish` exchanges the code it lands with and returns the ID token's claims. */
async function authorize(page: Page) {
  const flow = await authorizeIn(page, config);
  return { finish: async () => (await flow.tokens()).claims()! };
}

async function password(page: Page, email: string, secret = STRONG_PASSWORD): Promise<void> {
  await page.fill('#email', email);
  await page.fill('#password', secret);
  await page.click('button[type=submit]');
  await page.waitForLoadState();
}

async function code(page: Page, typed: string): Promise<void> {
  await page.fill('#code', typed);
  await page.click('button[type=submit]');
  await page.waitForLoadState();
}

describeInBrowser(`two-step sign-in with an authenticator app, in a real browser (${CHROMIUM})`, () => {
  let key = '';
  let recoveryCodes: string[] = [];

  it('enrols an authenticator app from the account page once signed in; the ID token said a password only until then', async () => {
    await login.signUp(slug, 'ada@example.com');
    await inBrowser(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'ada@example.com');
      const claims = await flow.finish();
      expect(claims.amr).toEqual(['pwd']);
      expect(claims.acr).toBe(ACR_PASSWORD);

      await page.goto(`${login.url}/t/${slug}/account/security`);
      await page.click('text=Set up an authenticator app');
      expect(await page.locator('svg').count()).toBeGreaterThan(0);
      key = (await page.textContent('#totp-key'))!.replace(/\s/g, '');
      await code(page, '000000');
      await page.waitForSelector('text=This code is not right');
      await code(page, appCode(key));
      recoveryCodes = await page.locator('#recovery-codes code').allTextContents();
      expect(recoveryCodes).toHaveLength(10);
      await page.goto(`${login.url}/t/${slug}/account/security`);
      await page.waitForSelector('text=Two-step sign-in is on');
    });
  });

  it('asks for the code after the password; the ID token says so (amr, acr)', async () => {
    await inBrowser(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'ada@example.com');
      await page.waitForSelector('text=Code from your authenticator app');
      // The code that confirmed the enrolment is spent: the app's next one works.
      await code(page, appCode(key, 30));
      const claims = await flow.finish();
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
      expect(claims.acr).toBe(ACR_MFA);
      expect(claims.email).toBeUndefined();
    });
  });

  it('takes a recovery code once; a used one or a wrong code is refused, and too many lock the step', async () => {
    await inBrowser(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'ada@example.com');
      await code(page, recoveryCodes[0]!.toUpperCase());
      expect((await flow.finish()).amr).toEqual(['pwd', 'otp', 'mfa']);
    });
    await inBrowser(async (_context, page) => {
      await authorize(page);
      await password(page, 'ada@example.com');
      await code(page, recoveryCodes[0]!);
      await page.waitForSelector('text=This code is not right, or it was used already');
      await code(page, '123456');
      await code(page, recoveryCodes[1]!.replace('-', 'x'));
      await page.waitForSelector('text=Too many wrong codes');
      // Locked: even the app's right code waits for the cool-down.
      await code(page, appCode(key, 60));
      await page.waitForSelector('text=Too many wrong codes');
    });
  });

  it('a person without an authenticator app signs in with the password alone, and the account page needs a session', async () => {
    await login.signUp(slug, 'grace@example.com');
    await inBrowser(async (_context, page) => {
      const response = await page.goto(`${login.url}/t/${slug}/account/security`);
      expect(response?.status()).toBe(401);
      await page.waitForSelector('text=Sign in first');
      const flow = await authorize(page);
      await password(page, 'grace@example.com');
      expect((await flow.finish()).amr).toEqual(['pwd']);
    });
  });

  it('removing the authenticator app takes a current code; sign-in then asks for the password alone', async () => {
    await login.signUp(slug, 'lin@example.com');
    await inBrowser(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'lin@example.com');
      await flow.finish();
      await page.goto(`${login.url}/t/${slug}/account/security`);
      await page.click('text=Set up an authenticator app');
      const linKey = (await page.textContent('#totp-key'))!.replace(/\s/g, '');
      await code(page, appCode(linKey));
      await page.goto(`${login.url}/t/${slug}/account/security`);
      await code(page, '000000');
      await page.waitForSelector('text=This code is not right');
      await code(page, appCode(linKey, 30));
      await page.waitForSelector('text=Your authenticator app is removed.');
    });
    await inBrowser(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'lin@example.com');
      expect((await flow.finish()).amr).toEqual(['pwd']);
    });
  });
});

describeInBrowser(`a tenant's second-factor policy, in a real browser (${CHROMIUM})`, () => {
  let strict: string;
  let strictConfig: oidc.Configuration;
  const setPolicy = async (tenant: string, policy: object) => {
    const answer = await fetch(`${login.url}/admin/tenants/${tenant}/second-factor-policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${login.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(policy),
    });
    expect(answer.status).toBe(200);
    return answer.json();
  };

  beforeAll(async () => {
    strict = (await login.createTenant()).slug;
    const { clientId } = await login.registerClient(strict, { name: 'Strict app', type: 'public', redirectUris: [REDIRECT_URI] });
    strictConfig = await oidc.discovery(new URL(login.issuer(strict)), clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  it('required: a person without an app sets one up during sign-in, keeps the recovery codes, and goes on with amr mfa', async () => {
    expect(await setPolicy(strict, { mode: 'required' })).toEqual({ mode: 'required', requiredForClients: [] });
    const bad = await fetch(`${login.url}/admin/tenants/${strict}/second-factor-policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${login.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'always' }),
    });
    expect(bad.status).toBe(400);
    await login.signUp(strict, 'new@example.com');
    await inBrowser(async (_context, page) => {
      const flow = await authorizeIn(page, strictConfig);
      await password(page, 'new@example.com');
      await page.waitForSelector('text=asks for a second step at sign-in');
      const strictKey = (await page.textContent('#totp-key'))!.replace(/\s/g, '');
      await code(page, '000000');
      await page.waitForSelector('text=This code is not right');
      await code(page, appCode(strictKey));
      expect(await page.locator('#recovery-codes code').count()).toBe(10);
      await page.click('text=I have kept them: continue');
      const claims = (await flow.tokens()).claims()!;
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
      expect(claims.acr).toBe(ACR_MFA);
    });
  });

  it('a client asking acr_values for mfa steps a person up to enrol even where the tenant leaves it optional; off asks no one', async () => {
    await login.signUp(slug, 'stepped-up@example.com');
    await inBrowser(async (_context, page) => {
      await authorizeIn(page, config, { acr_values: ACR_MFA });
      await password(page, 'stepped-up@example.com');
      await page.waitForSelector('text=asks for a second step at sign-in');
    });
    // Off: even Ada, who enrolled, signs in with her password alone.
    await setPolicy(slug, { mode: 'off' });
    try {
      await inBrowser(async (_context, page) => {
        const flow = await authorize(page);
        await password(page, 'ada@example.com');
        expect((await flow.finish()).amr).toEqual(['pwd']);
      });
    } finally {
      await setPolicy(slug, { mode: 'optional' });
    }
  });
});
