import * as oidc from 'openid-client';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI, signInThroughPages } from './sign-in-flow';

/**
 * The signed-in pages besides security, through HTTP as a browser without JavaScript uses them:
 * sessions listed and ended, the password changed (current one required, new one held to sign-up's
 * rules, the lock-out counting wrong guesses), and the way back into the application's authorization.
 */
let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;
const NEW_PASSWORD = 'a brand new passphrase';

beforeAll(async () => {
  login = await startLogin({ LOGIN_LOCKOUT_THRESHOLD: '3' });
  slug = (await login.createTenant()).slug;
  const { clientId } = await login.registerClient(slug, { name: 'Account app', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => login?.close());

const page = (name: string) => `${login.url}/t/${slug}/account/${name}`;
const csrfOf = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)![1]!;
const otherSessionUids = (body: string) => [...body.matchAll(/name="session" value="([^"]+)"/g)].map((match) => match[1]!);

async function sessionEvents(reason?: string): Promise<number> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE 'login.session-%' AND type = 'SessionEnded'
      AND ($1::text IS NULL OR data->>'reason' = $1)`,
    [reason ?? null],
  );
  return rows[0]!.n;
}

async function passwordEvents(): Promise<{ reason: string }[]> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ data: { reason: string } }>(
    "SELECT data FROM es_events WHERE stream_name LIKE 'register.account-%' AND type = 'PasswordChanged' ORDER BY seq",
  );
  return rows.map((row) => row.data);
}

const signedIn = async (browser: FormBrowser) => (await browser.request(page('security'))).status === 200;

describe('sessions', () => {
  test('a person sees their sessions (this one marked, the application named) and ends another, which signs that browser out', async () => {
    await login.signUp(slug, 'ada@example.com');
    const laptop = (await signInThroughPages(slug, config, {}, 'ada@example.com')).browser;
    const phone = (await signInThroughPages(slug, config, {}, 'ada@example.com')).browser;
    const list = await laptop.request(page('sessions'));
    expect(list.status).toBe(200);
    expect(list.body).toContain('This browser');
    expect(list.body).toContain('Applications: Account app');
    expect(list.body.match(/<li/g)).toHaveLength(2);
    const [phoneUid] = otherSessionUids(list.body);
    expect(otherSessionUids(list.body)).toHaveLength(1);

    const before = await sessionEvents('ended-by-person');
    const ended = await laptop.request(page('sessions/end'), { form: { csrf: csrfOf(list.body), session: phoneUid! } });
    expect(ended.status).toBe(200);
    expect(ended.body).toContain('The session is signed out.');
    expect(ended.body.match(/<li/g)).toHaveLength(1);
    expect(await signedIn(phone)).toBe(false);
    expect(await signedIn(laptop)).toBe(true);
    expect(await sessionEvents('ended-by-person')).toBe(before + 1);

    // Ended already, or someone else's: nothing to end, nothing recorded.
    const again = await laptop.request(page('sessions/end'), { form: { csrf: csrfOf(list.body), session: phoneUid! } });
    expect(again.status).toBe(404);
    expect(await sessionEvents('ended-by-person')).toBe(before + 1);
  });

  test('“sign out every other session” keeps only this browser; the forms need the session’s CSRF token', async () => {
    await login.signUp(slug, 'grace@example.com');
    const browsers = [];
    for (let i = 0; i < 3; i++) browsers.push((await signInThroughPages(slug, config, {}, 'grace@example.com')).browser);
    const [mine, ...others] = browsers as [FormBrowser, ...FormBrowser[]];
    const list = await mine.request(page('sessions'));
    expect(otherSessionUids(list.body)).toHaveLength(2);
    expect((await mine.request(page('sessions/end-others'), { form: { csrf: 'forged' } })).status).toBe(403);
    expect((await mine.request(page('sessions/end-others'), { form: {} })).status).toBe(403);
    const done = await mine.request(page('sessions/end-others'), { form: { csrf: csrfOf(list.body) } });
    expect(done.status).toBe(200);
    expect(done.body).toContain('Other sessions signed out: 2.');
    for (const other of others) expect(await signedIn(other)).toBe(false);
    expect(await signedIn(mine)).toBe(true);
    // Another person's browser cannot end Grace's sessions with its own token: it ends only its own.
    const stranger = (await signInThroughPages(slug, config, {}, 'ada@example.com')).browser;
    const strangerList = await stranger.request(page('sessions'));
    const mineUid = (
      await login.runtime.infrastructure.pool.query<{ uid: string }>(
        "SELECT uid FROM login_oidc_models WHERE model = 'Session' AND payload->>'accountId' = (SELECT user_id::text FROM login_credentials WHERE email = 'grace@example.com')",
      )
    ).rows[0]!.uid;
    const refused = await stranger.request(page('sessions/end'), { form: { csrf: csrfOf(strangerList.body), session: mineUid } });
    expect(refused.status).toBe(404);
    expect(await signedIn(mine)).toBe(true);
  });

  test('signed out, the pages say to sign in first', async () => {
    const nobody = new FormBrowser();
    expect((await nobody.request(page('sessions'))).status).toBe(401);
    expect((await nobody.request(page('password'))).status).toBe(401);
    expect((await nobody.request(page('password'), { form: { csrf: 'x', current_password: 'a', new_password: 'b' } })).status).toBe(403);
  });
});

describe('changing the password', () => {
  test('needs the current password and a new one that passes the rules; then other sessions end and only the new one signs in', async () => {
    await login.signUp(slug, 'hedy@example.com');
    const mine = (await signInThroughPages(slug, config, {}, 'hedy@example.com')).browser;
    const other = (await signInThroughPages(slug, config, {}, 'hedy@example.com')).browser;
    const form = await mine.request(page('password'));
    expect(form.status).toBe(200);
    expect(form.body).toContain('At least 10 characters');
    const csrf = csrfOf(form.body);
    const post = (fields: Record<string, string>) => mine.request(page('password'), { form: { csrf, ...fields } });
    const changesBefore = (await passwordEvents()).length;

    const weak = await post({ current_password: STRONG_PASSWORD, new_password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body).toContain('at least 10 characters');
    const common = await post({ current_password: STRONG_PASSWORD, new_password: 'password123' });
    expect(common.body).toContain('too common');
    const withEmail = await post({ current_password: STRONG_PASSWORD, new_password: 'hedy-is-my-password' });
    expect(withEmail.body).toContain('must not contain your e-mail address');
    expect((await post({ current_password: '', new_password: NEW_PASSWORD })).body).toContain('Enter your current password.');
    const wrong = await post({ current_password: 'not my password at all', new_password: NEW_PASSWORD });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('Your current password is not right.');
    expect(await passwordEvents()).toHaveLength(changesBefore);

    const changed = await post({ current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD });
    expect(changed.status).toBe(200);
    expect(changed.body).toContain('Your password is changed.');
    expect((await passwordEvents()).slice(changesBefore)).toEqual([expect.objectContaining({ reason: 'change' })]);
    expect(await signedIn(mine)).toBe(true);
    expect(await signedIn(other)).toBe(false);

    await expect(signInThroughPages(slug, config, {}, 'hedy@example.com')).rejects.toThrow();
    const withNew = await signInWith('hedy@example.com', NEW_PASSWORD);
    expect(withNew.status).toBe(303);
  });

  test('wrong current passwords count like wrong sign-ins: past the threshold the page is locked, the right one included', async () => {
    await login.signUp(slug, 'alan@example.com');
    const mine = (await signInThroughPages(slug, config, {}, 'alan@example.com')).browser;
    const csrf = csrfOf((await mine.request(page('password'))).body);
    const post = (current: string) =>
      mine.request(page('password'), { form: { csrf, current_password: current, new_password: NEW_PASSWORD } });
    for (let i = 0; i < 3; i++) expect((await post(`wrong guess ${i}`)).status).toBe(401);
    const locked = await post(STRONG_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body).toContain('Too many failed attempts');
    expect((await signInWith('alan@example.com', STRONG_PASSWORD)).status).toBe(429);
  });

  test('from an application: return_to goes back into its authorization, which answers with a code; another address is ignored', async () => {
    await login.signUp(slug, 'ida@example.com');
    const mine = (await signInThroughPages(slug, config, {}, 'ida@example.com')).browser;
    const authorization = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const returnTo = `${authorization.pathname}${authorization.search}`;
    const form = await mine.request(`${page('password')}?return_to=${encodeURIComponent(returnTo)}`);
    expect(form.body).toContain('Back to the application');
    const fields = { csrf: csrfOf(form.body), current_password: STRONG_PASSWORD, new_password: NEW_PASSWORD };
    const changed = await mine.request(page('password'), { form: { ...fields, return_to: returnTo } });
    expect(changed.status).toBe(303);
    expect(new URL(changed.location!).pathname).toBe(`/t/${slug}/auth`);
    const back = await mine.follow(changed.location!, REDIRECT_URI);
    expect(back.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);

    for (const elsewhere of [
      'https://evil.example/t/x/auth',
      `//evil.example/t/${slug}/auth?x=1`,
      `/t/${slug}/authx`,
      `/t/other/auth?a=1`,
    ]) {
      const list = await mine.request(`${page('sessions')}?return_to=${encodeURIComponent(elsewhere)}`);
      expect(list.body).not.toContain('Back to the application');
      const ended = await mine.request(page('sessions/end-others'), { form: { csrf: fields.csrf, return_to: elsewhere } });
      expect(ended.status).toBe(200);
    }
  });
});

/** A password sign-in through the pages, answering the post's status (303 on to the application, 401, 429). */
async function signInWith(email: string, password: string) {
  const { browser, form } = await openSignInPage(config);
  return browser.request(form.action, { form: { ...form.fields, email, password } });
}
