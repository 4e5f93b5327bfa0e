import * as oidc from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { ACR_MFA, ACR_PASSWORD } from '../src/mfa/second-factor-step';
import { authorizeIn, CHROMIUM, describeInBrowser, inBrowser } from './chromium';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

/** A credential as DevTools' WebAuthn.getCredentials returns it and WebAuthn.addCredential takes it. */
interface Credential {
  readonly credentialId: string;
  readonly isResidentCredential: boolean;
  readonly rpId?: string;
  readonly privateKey: string;
  readonly userHandle?: string;
  readonly signCount: number;
}

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  // localhost, not 127.0.0.1: Chromium takes a host name as WebAuthn's RP id, never an IP address.
  login = await startLogin({}, { localhost: true });
  slug = (await login.createTenant()).slug;
  config = await clientOf(slug);
});

afterAll(() => login?.close());

async function clientOf(tenant: string): Promise<oidc.Configuration> {
  const { clientId } = await login.registerClient(tenant, { name: 'Passkey app', type: 'public', redirectUris: [REDIRECT_URI] });
  return oidc.discovery(new URL(login.issuer(tenant)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

/**
 * Chromium's virtual authenticator (DevTools' WebAuthn domain): a platform authenticator with
 * resident keys and user verification that always succeeds, holding `credentials` (passkeys made
 * in an earlier browser, as a synced or copied passkey would arrive).
 */
async function authenticator(context: BrowserContext, page: Page, credentials: readonly Credential[] = []) {
  const cdp: CDPSession = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  for (const credential of credentials) await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  return { credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials as Credential[] };
}

/**
 * With JavaScript (the passkey buttons are the script's). Chromium's virtual authenticator answers
 * the sign-in page's passkey autofill (conditional mediation) at once, as a person picking their
 * passkey from the list would: so, unless `autofill`, the browser is one without passkey autofill,
 * where a person types a password or presses the passkey button.
 */
const withPasskeys = (work: (context: BrowserContext, page: Page) => Promise<void>, options: { autofill?: boolean } = {}) =>
  inBrowser(
    async (context, page) => {
      if (!options.autofill)
        await context.addInitScript({ content: 'PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);' });
      await work(context, page);
    },
    { javaScript: true },
  );

async function authorize(page: Page, configuration = config) {
  const flow = await authorizeIn(page, configuration);
  await page.waitForSelector('#email');
  return {
    async finish() {
      const claims = (await flow.tokens()).claims()!;
      // After the script's navigation, the landing on the relying party (not running) ends on Chromium's error
      // page a moment later: the test's next navigation waits for it rather than being interrupted.
      await page.waitForURL((url) => url.protocol === 'chrome-error:', { timeout: 5_000 }).catch(() => undefined);
      return claims;
    },
  };
}

async function password(page: Page, email: string): Promise<void> {
  await page.fill('#email', email);
  await page.fill('#password', STRONG_PASSWORD);
  await page.click('form button[type=submit]');
  await page.waitForLoadState();
}

/** Signs in with the password (no second factor yet) and opens the account page, in this browser's session. */
async function signedInSecurityPage(page: Page, email: string): Promise<void> {
  const flow = await authorize(page);
  await password(page, email);
  const claims = await flow.finish();
  expect(claims.amr).toEqual(['pwd']);
  expect(claims.acr).toBe(ACR_PASSWORD);
  await page.goto(`${login.url}/t/${slug}/account/security`);
}

async function enrol(page: Page, name: string): Promise<void> {
  await page.fill('#passkey-name', name);
  await page.click('#passkey-button');
  await page.waitForSelector(`#passkeys .passkey-name:text-is("${name}")`);
}

describeInBrowser(`passkeys, through Chromium's virtual authenticator (${CHROMIUM})`, () => {
  /** Ada's passkey as her authenticator holds it now (its signature count moves on with each sign-in). */
  let adas: Credential[] = [];
  /** The same passkey as it was when enrolled: a copy that stayed behind. */
  let enrolled: Credential[] = [];
  let graces: Credential[] = [];
  let adaId = '';

  it('enrols a passkey from the account page; it is listed with its name, when it was added and that it was never used', async () => {
    adaId = (await login.signUp(slug, 'ada@example.com')).id;
    await withPasskeys(async (context, page) => {
      const device = await authenticator(context, page);
      await signedInSecurityPage(page, 'ada@example.com');
      await page.waitForSelector('#passkey:not([hidden])');
      await enrol(page, 'Ada’s laptop');
      expect(await page.textContent('#passkeys')).toContain('last used never');
      adas = await device.credentials();
      enrolled = adas;
      expect(adas).toHaveLength(1);
      expect(adas[0]!.isResidentCredential).toBe(true);
      expect(adas[0]!.rpId).toBe('localhost');
    });
  });

  it('asks for the second step after the password and takes the passkey; the ID token says pwd, hwk, user, mfa and the MFA acr', async () => {
    await withPasskeys(async (context, page) => {
      const device = await authenticator(context, page, adas);
      const flow = await authorize(page);
      await password(page, 'ada@example.com');
      // Ada has passkeys alone: the step asks for one, with no code field she could not fill.
      await page.waitForSelector('text=Use your passkey');
      expect(await page.locator('#code').count()).toBe(0);
      await page.click('#passkey-button');
      const claims = await flow.finish();
      expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
      expect(claims.acr).toBe(ACR_MFA);
      adas = await device.credentials();
    });
  });

  it('signs in without a password: the passkey says whose it is; amr hwk, user, mfa; the account page says when it was last used', async () => {
    await withPasskeys(async (context, page) => {
      const device = await authenticator(context, page, adas);
      const flow = await authorize(page);
      await page.click('text=Sign in with a passkey');
      const claims = await flow.finish();
      adas = await device.credentials();
      expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
      expect(claims.acr).toBe(ACR_MFA);
      await page.goto(`${login.url}/t/${slug}/account/security`);
      expect(await page.textContent('#passkeys')).not.toContain('last used never');
    });
  });

  it('signs in through the browser’s passkey autofill on the sign-in page (conditional mediation), with nothing typed', async () => {
    await withPasskeys(
      async (context, page) => {
        const device = await authenticator(context, page, adas);
        const flow = await authorizeIn(page, config);
        const claims = (await flow.tokens()).claims()!;
        expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
        adas = await device.credentials();
      },
      { autofill: true },
    );
  });

  it('another person’s passkey is refused at Ada’s second step, and a passkey of another tenant signs in nobody', async () => {
    await login.signUp(slug, 'grace@example.com');
    await withPasskeys(async (context, page) => {
      const device = await authenticator(context, page);
      await signedInSecurityPage(page, 'grace@example.com');
      await enrol(page, 'Grace’s key');
      graces = await device.credentials();
    });
    await withPasskeys(async (context, page) => {
      await authenticator(context, page, graces);
      await authorize(page);
      await password(page, 'ada@example.com');
      await page.click('#passkey-button');
      await page.waitForSelector('text=The passkey did not sign you in');
      expect(page.url()).toContain('/interaction/');
    });
    const other = (await login.createTenant()).slug;
    const otherConfig = await clientOf(other);
    await withPasskeys(async (context, page) => {
      await authenticator(context, page, adas);
      await authorize(page, otherConfig);
      const refused = page.waitForResponse((response) => response.url().endsWith('/passkey') && response.request().method() === 'POST');
      await page.click('text=Sign in with a passkey');
      expect((await refused).status()).toBe(401);
      await page.waitForSelector('text=The passkey did not sign you in');
    });
  });

  it('a copy of the passkey whose signature count went back is refused as a clone', async () => {
    await withPasskeys(async (context, page) => {
      // The count Ada's passkey had when it was enrolled, before the sign-ins above moved it on.
      await authenticator(context, page, enrolled);
      await authorize(page);
      const refused = page.waitForResponse((response) => response.url().endsWith('/passkey') && response.request().method() === 'POST');
      await page.click('text=Sign in with a passkey');
      const answer = await refused;
      expect(answer.status()).toBe(401);
      expect(((await answer.json()) as { detail: string }).detail).toContain('copied');
    });
  });

  it('removes the passkey from the account page; it signs in nobody afterwards, and the password alone does again', async () => {
    await withPasskeys(async (context, page) => {
      await authenticator(context, page, graces);
      const flow = await authorize(page);
      await password(page, 'grace@example.com');
      await page.click('#passkey-button');
      expect((await flow.finish()).amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
      await page.goto(`${login.url}/t/${slug}/account/security`);
      await page.click('text=Remove Grace’s key');
      await page.waitForSelector('text=The passkey is removed.');
      expect(await page.locator('#passkeys').count()).toBe(0);
      await authorizeIn(page, config, { prompt: 'login' });
      const refused = page.waitForResponse((response) => response.url().endsWith('/passkey') && response.request().method() === 'POST');
      await page.click('text=Sign in with a passkey');
      expect((await refused).status()).toBe(401);
      await page.waitForSelector('text=The passkey did not sign you in');
    });
    await withPasskeys(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'grace@example.com');
      expect((await flow.finish()).amr).toEqual(['pwd']);
    });
  });

  it('an operator’s reset of Ada’s second factors removes her passkey too: it signs in nobody, and her password alone does', async () => {
    const reset = await fetch(`${login.url}/admin/tenants/${slug}/users/${adaId}/second-factors`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${login.adminToken}` },
    });
    expect(reset.status).toBe(204);
    await withPasskeys(async (context, page) => {
      await authenticator(context, page, adas);
      await authorize(page);
      const refused = page.waitForResponse((response) => response.url().endsWith('/passkey') && response.request().method() === 'POST');
      await page.click('text=Sign in with a passkey');
      expect((await refused).status()).toBe(401);
    });
    await withPasskeys(async (_context, page) => {
      const flow = await authorize(page);
      await password(page, 'ada@example.com');
      expect((await flow.finish()).amr).toEqual(['pwd']);
    });
  });
});
