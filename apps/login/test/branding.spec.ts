import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { eventually } from '#platform/testing';
import { FormBrowser } from './browser-less';
import { available, CHROMIUM, describeInBrowser, inBrowser } from './chromium';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

const ACME = {
  displayName: 'Acme Rewards',
  logoUrl: 'https://cdn.acme.example/brand/logo.svg',
  primaryColor: '#0b6e4f',
  accentColor: '#f2a541',
  supportEmail: 'help@acme.example',
  termsUrl: 'https://acme.example/terms',
  privacyUrl: 'https://acme.example/privacy',
  defaultLocale: 'fr',
};
// A 1x1 SVG, served for the logo's URL inside the browser (the test has no CDN).
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="#0b6e4f"/></svg>';

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin();
  ({ slug } = await login.createTenant());
  const { clientId } = await login.registerClient(slug, { name: 'Appli', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
  const set = await login.register
    .http()
    .put(`/admin/tenants/${slug}/branding`)
    .set('authorization', `Bearer ${login.register.adminToken}`)
    .send(ACME);
  expect(set.status).toBe(200);
});

afterAll(() => login?.close());

async function authorizationUrl(params: Record<string, string> = {}): Promise<string> {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    ...params,
  }).href;
}

/** The sign-in page once login shows the branding: its projection, then at most its 5 s tenant cache. */
async function brandedSignIn(headers: Record<string, string> = {}, params: Record<string, string> = {}) {
  let page: Awaited<ReturnType<FormBrowser['follow']>> | undefined;
  await eventually(
    async () => {
      page = await new FormBrowser(headers).follow(await authorizationUrl(params), REDIRECT_URI);
      return page.body.includes('Acme Rewards');
    },
    { what: 'login to show the tenant’s branding', timeoutMs: 20_000, intervalMs: 250 },
  );
  return page!;
}

const lang = (html: string) => /<html lang="([a-z]+)">/.exec(html)?.[1];

describe('login’s pages in the tenant’s branding', () => {
  it('the sign-in page: name, logo, colours, links; its CSP allows those styles by hash and the logo’s origin only', async () => {
    const page = await brandedSignIn({ 'accept-language': 'en' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Sign in – Acme Rewards</title>');
    expect(page.body).toContain('<img class="logo" src="https://cdn.acme.example/brand/logo.svg" alt="Acme Rewards">');
    expect(page.body).toContain('<a href="mailto:help@acme.example">Help</a>');
    expect(page.body).toContain('<a href="https://acme.example/privacy" rel="noopener">Privacy</a>');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain('img-src https://cdn.acme.example;');
    expect(csp).not.toContain('unsafe-inline');
    const styles = [...page.body.matchAll(/<style>([^<]*)<\/style>/g)].map((match) => match[1]!);
    expect(styles[1]).toBe(':root{--primary:#0b6e4f;--on-primary:#ffffff;--link:#0b6e4f;--band:#f2a541}');
    expect(/style-src ([^;]+);/.exec(csp)![1]!.split(' ')).toEqual(
      styles.map((style) => `'sha256-${createHash('sha256').update(style).digest('base64')}'`),
    );
  });

  it('language: ui_locales, then Accept-Language, then the tenant’s default (French here)', async () => {
    expect(lang((await brandedSignIn()).body)).toBe('fr');
    expect(lang((await brandedSignIn({ 'accept-language': 'de-DE' })).body)).toBe('fr');
    expect(lang((await brandedSignIn({ 'accept-language': 'en-GB' })).body)).toBe('en');
    expect(lang((await brandedSignIn({ 'accept-language': 'fr' }, { ui_locales: 'en' })).body)).toBe('en');
  });

  it('oidc-provider’s own pages too (an error page), in the tenant’s language and look', async () => {
    await brandedSignIn();
    const error = await new FormBrowser().request(`${login.issuer(slug)}/auth?client_id=unknown-client`);
    expect(error.status).toBe(400);
    expect(lang(error.body)).toBe('fr');
    expect(error.body).toContain('<p class="site">Acme Rewards</p>');
    expect(error.headers.get('content-security-policy')).toContain('img-src https://cdn.acme.example;');
  });
});

describeInBrowser(`a branded page in a real browser (${CHROMIUM})`, () => {
  it('renders with the tenant’s colours and logo and no CSP violation', async () => {
    if (!available) return;
    await brandedSignIn();
    await inBrowser(
      async (context, page) => {
        await context.route('https://cdn.acme.example/**', (route) =>
          route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO_SVG }),
        );
        const violations: string[] = [];
        page.on('console', (message) => {
          if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
        });
        // Chromium reports a violation on the console itself; the event catches any it might not.
        await page.addInitScript({
          content: "document.addEventListener('securitypolicyviolation', (e) => console.error('Refused by CSP: ' + e.violatedDirective));",
        });
        await page.goto(await authorizationUrl());
        await page.waitForLoadState('networkidle');
        expect(await page.locator('.site').textContent()).toBe('Acme Rewards');
        // The tenant's colour reached the button: the CSP let its style element through.
        // (Expressions as strings: this file is compiled without the DOM's types.)
        expect(await page.evaluate("getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor")).toBe(
          'rgb(11, 110, 79)',
        );
        expect(await page.evaluate("document.querySelector('img.logo').naturalWidth")).toBe(120);
        expect(violations).toEqual([]);
      },
      { javaScript: true },
    );
  });
});
