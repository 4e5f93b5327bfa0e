import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { ACR_MFA, ACR_PASSWORD } from '../src/mfa/second-factor-step';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI, signInThroughPages } from './sign-in-flow';

/**
 * Step-up of a session that signed in with a password alone: a client asking for acr mfa (or a
 * tenant policy requiring a second factor for that client) gets the second step only, without the
 * password again, and the ID token (openid-client) says what happened.
 */
let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin();
  slug = (await login.createTenant()).slug;
  config = await configFor(slug, 'Step-up app');
});
afterAll(() => login?.close());

async function configFor(tenant: string, name: string) {
  const { clientId } = await login.registerClient(tenant, { name, type: 'public', redirectUris: [REDIRECT_URI] });
  return oidc.discovery(new URL(login.issuer(tenant)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

async function setPolicy(tenant: string, policy: object) {
  const answer = await fetch(`${login.url}/admin/tenants/${tenant}/second-factor-policy`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${login.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(policy),
  });
  expect(answer.status).toBe(200);
}

/** What an authenticator app shows `aheadS` seconds from now (otplib, not the server's library). */
const appCode = (key: string, aheadS = 0) => generateSync({ secret: key, epoch: Math.floor(Date.now() / 1000) + aheadS });

/** An authorization in `browser` (its session, if any); `land` follows it to the first page or back to the client. */
async function authorize(browser: FormBrowser, client: oidc.Configuration, params: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(client, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const landed = await browser.follow(url.href, REDIRECT_URI);
  return {
    landed,
    claims: async (location: string) =>
      (await oidc.authorizationCodeGrant(client, new URL(location), { pkceCodeVerifier: verifier, expectedState: state })).claims()!,
  };
}

/** Sets up an authenticator app on the account page of `browser`'s session; returns its key. */
async function enrolApp(browser: FormBrowser, tenant: string): Promise<string> {
  const security = `${login.url}/t/${tenant}/account/security`;
  const page = await browser.request(security);
  await browser.request(`${security}/totp`, { form: FormBrowser.form({ body: page.body, url: security }).fields });
  const enrolment = await browser.request(security);
  const key = /<code id="totp-key">([^<]+)<\/code>/.exec(enrolment.body)![1]!.replace(/\s/g, '');
  const confirm = FormBrowser.form({ body: enrolment.body, url: security });
  const confirmed = await browser.request(confirm.action, { form: { ...confirm.fields, code: appCode(key) } });
  expect(confirmed.body).toContain('recovery-codes');
  return key;
}

const asksPassword = (body: string) => body.includes('name="password"');

describe('step-up of a session signed in with a password alone', () => {
  test('acr_values=mfa asks for the code only; the ID token then says otp and mfa, and the session keeps it', async () => {
    await login.signUp(slug, 'ada@example.com');
    const { browser } = await signInThroughPages(slug, config, {}, 'ada@example.com');
    const key = await enrolApp(browser, slug);

    // Without acr_values the password-only session is reused as it is.
    const plain = await authorize(browser, config);
    expect(plain.landed.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(await plain.claims(plain.landed.location!)).toMatchObject({ amr: ['pwd'], acr: ACR_PASSWORD });

    const stepUp = await authorize(browser, config, { acr_values: ACR_MFA });
    expect(stepUp.landed.status).toBe(200);
    expect(asksPassword(stepUp.landed.body)).toBe(false);
    expect(stepUp.landed.body).toContain('Code from your authenticator app');
    const form = FormBrowser.form(stepUp.landed);
    const wrong = await browser.request(form.action, { form: { ...form.fields, code: '000000' } });
    expect(wrong.status).toBe(401);
    const done = await browser.request(form.action, { form: { ...form.fields, code: appCode(key, 30) } });
    expect(done.status).toBe(303);
    const back = await browser.follow(done.location!, REDIRECT_URI);
    expect(back.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(await stepUp.claims(back.location!)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA });

    // The session is now multi-factor: asking again needs nothing more.
    const again = await authorize(browser, config, { acr_values: ACR_MFA });
    expect(again.landed.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(await again.claims(again.landed.location!)).toMatchObject({ acr: ACR_MFA });
  });

  test('a client the policy requires a second factor for steps up a session from another client; a person without one enrols first', async () => {
    const tenant = (await login.createTenant()).slug;
    const relaxed = await configFor(tenant, 'Relaxed app');
    const strict = await configFor(tenant, 'Strict app');
    await setPolicy(tenant, { mode: 'optional', requiredForClients: [strict.clientMetadata().client_id] });
    await login.signUp(tenant, 'grace@example.com');
    const { browser } = await signInThroughPages(tenant, relaxed, {}, 'grace@example.com');

    const stepUp = await authorize(browser, strict);
    expect(stepUp.landed.status).toBe(200);
    expect(asksPassword(stepUp.landed.body)).toBe(false);
    const key = /<code id="totp-key">([^<]+)<\/code>/.exec(stepUp.landed.body)![1]!.replace(/\s/g, '');
    const enrol = FormBrowser.form(stepUp.landed);
    const codes = await browser.request(enrol.action, { form: { ...enrol.fields, code: appCode(key) } });
    expect(codes.body).toContain('recovery-codes');
    const next = FormBrowser.form(codes);
    const done = await browser.request(next.action, { form: next.fields });
    const back = await browser.follow(done.location!, REDIRECT_URI);
    // Consent for the strict app, first time it is used.
    const consented = back.location ? back : await browser.follow((await allow(browser, back)).location!, REDIRECT_URI);
    expect(await stepUp.claims(consented.location!)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: ACR_MFA });
  });

  test('off: the tenant asks for no second factor, so a client asking for one gets the session as it is', async () => {
    const tenant = (await login.createTenant()).slug;
    const client = await configFor(tenant, 'Off app');
    await setPolicy(tenant, { mode: 'off' });
    await login.signUp(tenant, 'hedy@example.com');
    const { browser } = await signInThroughPages(tenant, client, {}, 'hedy@example.com');
    const asked = await authorize(browser, client, { acr_values: ACR_MFA });
    expect(asked.landed.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(await asked.claims(asked.landed.location!)).toMatchObject({ amr: ['pwd'], acr: ACR_PASSWORD });
  });
});

async function allow(browser: FormBrowser, page: { body: string; url: string }) {
  expect(page.body).toContain('Allow access');
  const consent = FormBrowser.form(page);
  return browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
}
