import * as oidc from 'openid-client';
import { available, CHROMIUM, describeInBrowser, inBrowser } from './chromium';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

let login: LoginHarness;
let slug: string;
let clientId: string;

beforeAll(async () => {
  if (!available) return;
  login = await startLogin();
  slug = (await login.createTenant()).slug;
  await login.signUp(slug, 'ada@example.com');
  ({ clientId } = await login.registerClient(slug, { name: 'Browser app', type: 'public', redirectUris: [REDIRECT_URI] }));
});

afterAll(() => login?.close());

describeInBrowser(`a real browser (${CHROMIUM})`, () => {
  it("signs in through the hosted pages without JavaScript help and lands on the client's redirect URI with a code", async () => {
    const config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    await inBrowser(async (_context, page) => {
      await page.goto(url.href);
      await page.fill('#email', 'ada@example.com');
      await page.fill('#password', STRONG_PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForLoadState();
      if (!page.url().startsWith(REDIRECT_URI)) await page.click('button[value=allow]');
      await page.waitForURL(`${REDIRECT_URI}**`);
      const landed = new URL(page.url());
      expect(landed.searchParams.get('code')).toEqual(expect.any(String));
      const tokens = await oidc.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()?.iss).toBe(login.issuer(slug));
    });
  });

  it('keeps one session per tenant: signing in at tenant B leaves the browser signed in at tenant A', async () => {
    // Someone who has not used either client yet, so each first sign-in asks for consent once.
    const other = (await login.createTenant()).slug;
    await Promise.all([login.signUp(slug, 'grace@example.com'), login.signUp(other, 'grace@example.com')]);
    const otherClient = await login.registerClient(other, { name: 'Browser app', type: 'public', redirectUris: [REDIRECT_URI] });
    const configOf = (tenant: string, client: string) =>
      oidc.discovery(new URL(login.issuer(tenant)), client, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    const authorizationUrl = async (config: oidc.Configuration) =>
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        })
        .toString();
    const [configA, configB] = await Promise.all([configOf(slug, clientId), configOf(other, otherClient.clientId)]);
    await inBrowser(async (context, page) => {
      const signIn = async (config: oidc.Configuration) => {
        await page.goto(await authorizationUrl(config));
        await page.fill('#email', 'grace@example.com');
        await page.fill('#password', STRONG_PASSWORD);
        await page.click('button[type=submit]');
        await page.click('button[value=allow]');
        await page.waitForURL(`${REDIRECT_URI}**`);
      };
      await signIn(configA);
      await signIn(configB);

      // Each tenant's session cookie lives under that tenant's path, so neither overwrote the other.
      const sessions = (await context.cookies()).filter((cookie) => cookie.name === '_session');
      expect(sessions.map((cookie) => cookie.path).sort()).toEqual([`/t/${slug}`, `/t/${other}`].sort());

      // Back at tenant A: still signed in, so the authorization redirects straight back with a code.
      // (Chromium refuses to land on port 9 within a redirect chain: the redirect itself is what counts.)
      const backWithCode = page.waitForResponse((response) => (response.headers().location ?? '').startsWith(REDIRECT_URI), {
        timeout: 10_000,
      });
      await page.goto(await authorizationUrl(configA)).catch(() => undefined);
      const location = new URL((await backWithCode).headers().location!);
      expect(location.searchParams.get('code')).toEqual(expect.any(String));
      expect(location.searchParams.get('iss')).toBe(login.issuer(slug));
    });
  });
});
