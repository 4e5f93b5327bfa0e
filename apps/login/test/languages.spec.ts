import * as oidc from 'openid-client';
import { eventually } from '#platform/testing';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

let login: LoginHarness;
let slug: string;
let tenantId: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin({}, { journeys: true });
  ({ slug, id: tenantId } = await login.createTenant());
  const { clientId } = await login.registerClient(slug, { name: 'Appli', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

afterAll(() => login?.close());

/** A fresh authorization request (code flow, PKCE) with these extra parameters. */
async function authorizationUrl(params: Record<string, string> = {}): Promise<string> {
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    ...params,
  });
  return url.href;
}

const hrefs = (html: string) => [...html.matchAll(/<a href="([^"]+)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&'));

describe('login’s pages speak the language the authorization or the browser asks for', () => {
  it('lists its languages in discovery (ui_locales_supported)', async () => {
    const discovery = (await (await fetch(`${login.issuer(slug)}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.ui_locales_supported).toEqual(['en', 'fr']);
    expect(config.serverMetadata().ui_locales_supported).toEqual(['en', 'fr']);
  });

  it('ui_locales=fr: sign-in in French, register’s pages in French through its links, and back into the same authorization', async () => {
    const browser = new FormBrowser();
    const signInPage = await browser.follow(await authorizationUrl({ ui_locales: 'fr-FR fr' }), REDIRECT_URI);
    expect(signInPage.status).toBe(200);
    expect(signInPage.body).toContain('<html lang="fr">');
    expect(signInPage.body).toContain('<h1>Connexion</h1>');
    expect(signInPage.body).toContain('<label for="password">Mot de passe</label>');
    expect(signInPage.body).toContain('>Se connecter</button>');
    expect(signInPage.body).toContain('>Mot de passe oublié\u00a0?</a>');
    expect(signInPage.body).toContain('>Créer un compte</a>');

    // Register's pages take the language the sign-in page chose.
    const [forgotLink, signUpLink] = hrefs(signInPage.body);
    expect(new URL(forgotLink!).searchParams.get('ui_locales')).toBe('fr');
    expect(new URL(signUpLink!).searchParams.get('ui_locales')).toBe('fr');
    const signUpPage = await browser.request(signUpLink!);
    expect(signUpPage.body).toContain('<h1>Créez votre compte</h1>');
    const signUpForm = FormBrowser.form(signUpPage);
    const signedUp = await browser.request(signUpForm.action, {
      form: { ...signUpForm.fields, email: 'amelie@example.com', password: STRONG_PASSWORD },
    });
    expect(signedUp.status).toBe(201);
    expect(signedUp.body).toContain('<html lang="fr">');
    await login.register.settled();
    expect(login.register.mailbox.list('amelie@example.com')[0]?.subject).toMatch(/confirmez votre adresse e-mail$/);
    // Login learns the account from register's events, as it would between two services.
    const pool = login.runtime.infrastructure.pool;
    await eventually(async () => Boolean((await pool.query('SELECT 1 FROM login_credentials WHERE tenant_id = $1', [tenantId])).rowCount), {
      what: 'login to learn the account',
    });

    // "Continuer vers la connexion" names no language: the authorization's own ui_locales still holds.
    const back = await browser.request(hrefs(signedUp.body).find((href) => href.startsWith(login.url))!);
    expect(back.body).toContain('<h1>Connexion</h1>');
    const signIn = FormBrowser.form(back);
    expect(signIn.fields.ui_locales).toBe('fr');

    const wrong = await browser.request(signIn.action, { form: { ...signIn.fields, email: 'amelie@example.com', password: 'pas le bon' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('<html lang="fr">');
    expect(wrong.body).toContain('role="alert">L’adresse e-mail ou le mot de passe est incorrect.</p>');

    const signedIn = await browser.request(signIn.action, {
      form: { ...signIn.fields, email: 'amelie@example.com', password: STRONG_PASSWORD },
    });
    expect(signedIn.status).toBe(303);
    const consent = await browser.follow(signedIn.location!, REDIRECT_URI);
    expect(consent.body).toContain('<h1>Autoriser l’accès</h1>');
    expect(consent.body).toContain('>Autoriser</button>');
    const allowed = await browser.request(FormBrowser.form(consent).action, {
      form: { ...FormBrowser.form(consent).fields, decision: 'allow' },
    });
    const landed = await browser.follow(allowed.location!, REDIRECT_URI);
    expect(landed.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);

    // oidc-provider's sign-out page, with the language of the end_session request.
    const signOut = await browser.request(`${login.issuer(slug)}/session/end?ui_locales=fr`);
    expect(signOut.status).toBe(200);
    expect(signOut.body).toContain('<html lang="fr">');
    expect(signOut.body).toContain(`Voulez-vous vous déconnecter de Tenant ${slug}\u00a0?`);
    expect(signOut.body).toContain('>Me déconnecter</button>');
  });

  it('without ui_locales the browser’s Accept-Language decides, and ui_locales wins over it', async () => {
    const quebec = await new FormBrowser({ 'accept-language': 'fr-CA,fr;q=0.9,en;q=0.5' }).follow(await authorizationUrl(), REDIRECT_URI);
    expect(quebec.body).toContain('<html lang="fr">');
    expect(quebec.body).toContain('<h1>Connexion</h1>');

    const asked = await new FormBrowser({ 'accept-language': 'fr-FR' }).follow(await authorizationUrl({ ui_locales: 'en' }), REDIRECT_URI);
    expect(asked.body).toContain('<html lang="en">');
    expect(asked.body).toContain('<h1>Sign in</h1>');
    expect(asked.body).toContain('>Forgot your password?</a>');

    const unsupported = await new FormBrowser({ 'accept-language': 'de-DE' }).follow(
      await authorizationUrl({ ui_locales: 'ja' }),
      REDIRECT_URI,
    );
    expect(unsupported.body).toContain('<html lang="en">');
  });

  it('oidc-provider’s own pages too: errors, and sign-out (tested above, with a session)', async () => {
    const error = await new FormBrowser({ 'accept-language': 'fr' }).request(`${login.issuer(slug)}/auth?client_id=unknown-client`);
    expect(error.status).toBe(400);
    expect(error.body).toContain('<html lang="fr">');
    expect(error.body).toContain('<h1>Une erreur est survenue</h1>');
    const asked = await new FormBrowser().request(`${login.issuer(slug)}/auth?client_id=unknown-client&ui_locales=fr`);
    expect(asked.body).toContain('<h1>Une erreur est survenue</h1>');
  });
});
