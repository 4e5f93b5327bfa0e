import fc from 'fast-check';
import * as oidc from 'openid-client';
import request from 'supertest';
import { eventually } from '#platform/testing';
import { hostileText } from '../../../test/support/hostile-values';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI, signInThroughPages } from './sign-in-flow';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';

/**
 * The e-mail change page of a signed-in person, through HTTP as a browser without JavaScript uses
 * it, across both services: login checks the password again and records the request, register
 * mails the new address a link (and the old one a notice), the link's page moves the account, and
 * from then on only the new address signs in.
 */
let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin();
  slug = (await login.createTenant()).slug;
  const { clientId } = await login.registerClient(slug, { name: 'Email app', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => login?.close());

const emailPage = () => `${login.url}/t/${slug}/account/email`;
const csrfOf = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)![1]!;

async function requests(): Promise<{ data: string }[]> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ data: string }>(
    "SELECT data::text AS data FROM es_events WHERE type = 'EmailChangeRequested' ORDER BY transaction_id, seq",
  );
  return rows;
}

/** The newest mail to `to` whose subject matches, once register's subscription sent it. */
async function mailTo(to: string, subject: RegExp) {
  let found: { text: string; subject: string } | undefined;
  await eventually(
    async () => {
      await login.register.settled();
      found = login.register.mailbox.list(to).find((mail) => subject.test(mail.subject));
      return Boolean(found);
    },
    { timeoutMs: 15_000, what: `a mail to ${to}` },
  );
  return found!;
}

/** Opens register's mailed-link page and presses its button, as a browser does. */
async function openChangeLink(token: string) {
  const agent = request.agent(login.register.app.getHttpServer());
  const opened = await agent.get(`/t/${slug}/confirm-email-change`);
  return agent
    .post(`/t/${slug}/confirm-email-change`)
    .type('form')
    .send({ csrf: csrfOf(opened.text), token });
}

async function signInRefused(email: string): Promise<boolean> {
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const browser = new FormBrowser();
  const signInPage = await browser.follow(url.href, REDIRECT_URI);
  const form = FormBrowser.form(signInPage);
  const step = await browser.request(form.action, { form: { ...form.fields, email, password: STRONG_PASSWORD } });
  return step.status !== 303;
}

/** The token of the mailed link (its text carries it as a code too). */
const tokenOf = (mail: { text: string }) => /code[\s\u00a0]?: (\S+)/u.exec(mail.text)![1]!;

/** What a silent authorization (prompt=none) with this browser's cookies answers: a code or an error. */
async function silently(browser: FormBrowser): Promise<URLSearchParams> {
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const answer = await browser.follow(url.href, REDIRECT_URI);
  expect(answer.location).toMatch(/^http:\/\/localhost:9\/callback\?/);
  return new URL(answer.location!).searchParams;
}

/** Waits until login's read model holds `email`: the session ends are in that same transaction. */
const loginLearns = (email: string) =>
  eventually(
    async () =>
      Boolean((await login.runtime.infrastructure.pool.query('SELECT 1 FROM login_credentials WHERE email = $1', [email])).rowCount),
    { what: `login to learn ${email}` },
  );

describe('changing the e-mail address while signed in', () => {
  test('password checked again, the request recorded sealed, mails sent; once the link is opened only the new address signs in', async () => {
    await login.signUp(slug, 'ivy@example.com');
    const browser = (await signInThroughPages(slug, config, {}, 'ivy@example.com')).browser;
    const form = await browser.request(emailPage());
    expect(form.status).toBe(200);
    expect(form.body).toContain('Your account uses <strong>ivy@example.com</strong>.');
    expect((await browser.request(`${login.url}/t/${slug}/account/password`)).body).toContain(`href="/t/${slug}/account/email"`);
    const post = (fields: Record<string, string>) => browser.request(emailPage(), { form: { csrf: csrfOf(form.body), ...fields } });
    const before = (await requests()).length;

    const typo = await post({ new_email: 'ivy.new@', current_password: STRONG_PASSWORD });
    expect(typo.status).toBe(400);
    expect(typo.body).toContain('Enter the new address as name@example.com.');
    expect((await post({ new_email: 'IVY@example.com', current_password: STRONG_PASSWORD })).body).toContain(
      'That is the address your account uses already.',
    );
    expect((await post({ new_email: 'ivy.new@example.com', current_password: '' })).status).toBe(400);
    const wrong = await post({ new_email: 'ivy.new@example.com', current_password: 'not my password at all' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('Your current password is not right.');
    expect(
      (
        await browser.request(emailPage(), {
          form: { csrf: 'forged', new_email: 'ivy.new@example.com', current_password: STRONG_PASSWORD },
        })
      ).status,
    ).toBe(403);
    expect(await requests()).toHaveLength(before);

    const sent = await post({ new_email: ' Ivy.New@Example.com ', current_password: STRONG_PASSWORD });
    expect(sent.status).toBe(202);
    expect(sent.body).toContain('We sent a link to <strong>ivy.new@example.com</strong>');
    const recorded = (await requests()).slice(before);
    expect(recorded).toHaveLength(1);
    // Sealed under the person's key, as every address on the account stream.
    expect(recorded[0]!.data).not.toContain('ivy.new');

    const notice = await mailTo('ivy@example.com', /is being changed/);
    expect(notice.text).not.toContain('#token=');
    const link = await mailTo('ivy.new@example.com', /confirm your new e-mail address/);
    // Nothing moved yet: the old address still signs in.
    expect(await signInRefused('ivy@example.com')).toBe(false);

    const token = /code[\s\u00a0]?: (\S+)/u.exec(link.text)![1]!;
    expect((await openChangeLink(token)).status).toBe(200);
    await eventually(
      async () =>
        Boolean(
          (await login.runtime.infrastructure.pool.query("SELECT 1 FROM login_credentials WHERE email = 'ivy.new@example.com'")).rowCount,
        ),
      { what: 'login to learn the new address' },
    );
    expect(await signInRefused('ivy@example.com')).toBe(true);
    const again = await signInThroughPages(slug, config, {}, 'ivy.new@example.com');
    expect(again.callback.searchParams.get('code')).toBeTruthy();
    expect((await again.browser.request(emailPage())).body).toContain('Your account uses <strong>ivy.new@example.com</strong>.');
  });

  test('signed out, the page says to sign in first and a post is refused', async () => {
    const nobody = new FormBrowser();
    expect((await nobody.request(emailPage())).status).toBe(401);
    expect((await nobody.request(emailPage(), { form: { csrf: 'x', new_email: 'a@example.com', current_password: 'p' } })).status).toBe(
      403,
    );
  });

  test('generated hostile addresses: the page refuses them with 400 and records nothing', async () => {
    await login.signUp(slug, 'jay@example.com');
    const browser = (await signInThroughPages(slug, config, {}, 'jay@example.com')).browser;
    const csrf = csrfOf((await browser.request(emailPage())).body);
    const before = (await requests()).length;
    const hostile = fc.oneof(
      hostileText(['x'.repeat(300), `${'a'.repeat(250)}@example.com`, 'a@example.com\r\nBcc: b@example.com']),
      fc.string().map((s) => `${s}@`),
      fc.string({ unit: 'binary' }).map((s) => `a${s}\u0000@example.com`),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (typed) => {
        // A generated string that is a plain address after all is not hostile: it is left out.
        fc.pre(!/^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i.test(typed.trim()));
        const answer = await browser.request(emailPage(), { form: { csrf, new_email: typed, current_password: STRONG_PASSWORD } });
        expect(answer.status).toBe(400);
        expect(answer.body).toContain('Enter the new address as name@example.com.');
      }),
      { numRuns: 60 },
    );
    expect(await requests()).toHaveLength(before);
  });
});

describe('a confirmed change of address ends every session and refresh token of the person', () => {
  const byApi = (token: string) => login.register.http().post(`/t/${slug}/email-changes/confirm`).send({ token });
  test.each([
    ['the mailed link’s page', 'kim', openChangeLink],
    ['register’s API', 'lou', byApi],
  ])('confirmed through %s: the refresh token and both browsers are refused, the new address signs in', async (_edge, name, confirm) => {
    const [before, after] = [`${name}@example.com`, `${name}.new@example.com`];
    await login.signUp(slug, before);
    const mine = await signInThroughPages(slug, config, {}, before);
    const other = (await signInThroughPages(slug, config, {}, before)).browser;
    const tokens = await oidc.authorizationCodeGrant(config, mine.callback, { pkceCodeVerifier: mine.verifier, expectedState: mine.state });
    // Both hold before the change: a refresh works, the other browser signs in silently.
    const refreshToken = (await oidc.refreshTokenGrant(config, tokens.refresh_token!)).refresh_token!;
    expect((await silently(other)).get('code')).toBeTruthy();

    const form = await mine.browser.request(emailPage());
    const asked = await mine.browser.request(emailPage(), {
      form: { csrf: csrfOf(form.body), new_email: after, current_password: STRONG_PASSWORD },
    });
    expect(asked.status).toBe(202);
    expect((await confirm(tokenOf(await mailTo(after, /confirm your new e-mail address/)))).status).toBe(200);
    await loginLearns(after);

    await expect(oidc.refreshTokenGrant(config, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await silently(other)).get('error')).toBe('login_required');
    // The browser that asked is signed out too: the confirmation is register's and never saw it.
    expect((await silently(mine.browser)).get('error')).toBe('login_required');

    const again = await signInThroughPages(slug, config, {}, after);
    const fresh = await oidc.authorizationCodeGrant(config, again.callback, {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
    });
    expect((await oidc.refreshTokenGrant(config, fresh.refresh_token!)).access_token).toBeTruthy();
    expect((await silently(again.browser)).get('code')).toBeTruthy();
  });
});
