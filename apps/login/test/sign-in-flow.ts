import * as oidc from 'openid-client';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { FormBrowser } from './browser-less';

export const REDIRECT_URI = 'http://localhost:9/callback';

/** Authorization code + PKCE through the hosted sign-in and consent pages; returns the callback URL. */
export async function signInThroughPages(
  slug: string,
  config: oidc.Configuration,
  params: Record<string, string> = {},
  email = 'ada@example.com',
  pushed?: URL,
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url =
    pushed ??
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...params,
    });
  const browser = new FormBrowser();
  const signInPage = await browser.follow(url.href, REDIRECT_URI);
  expect(signInPage.status).toBe(200);
  expect(signInPage.body).toContain(`Tenant ${slug}`);
  const signIn = FormBrowser.form(signInPage);
  let step = await browser.request(signIn.action, { form: { ...signIn.fields, email, password: STRONG_PASSWORD } });
  expect(step.status).toBe(303);
  step = await browser.follow(step.location!, REDIRECT_URI);
  const askedConsent = !step.location?.startsWith(REDIRECT_URI);
  if (askedConsent) {
    expect(step.body).toContain('Allow access');
    const consent = FormBrowser.form(step);
    step = await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
    step = await browser.follow(step.location!, REDIRECT_URI);
  }
  expect(step.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
  return { callback: new URL(step.location!), verifier, state, browser, askedConsent };
}

/** The hosted sign-in page of a fresh authorization request (code flow, PKCE), and its form. */
export async function openSignInPage(config: oidc.Configuration, scope = 'openid') {
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = new FormBrowser();
  const page = await browser.follow(url.href, REDIRECT_URI);
  return { browser, form: FormBrowser.form(page), page, verifier };
}
