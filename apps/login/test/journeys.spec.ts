import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { authorizeIn, CHROMIUM, describeInBrowser, inBrowser } from './chromium';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin({}, { journeys: true });
  slug = (await login.createTenant()).slug;
  const { clientId } = await login.registerClient(slug, { name: 'Journeys app', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});

afterAll(() => login?.close());

/** An authorization in `page`; `exchange` returns who its tokens are for, as userinfo says. */
async function authorization(page: Page, params: Record<string, string> = {}) {
  const flow = await authorizeIn(page, config, params);
  return {
    async exchange(): Promise<{ email?: unknown; email_verified?: unknown }> {
      const tokens = await flow.tokens();
      const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      return { email: info.email, email_verified: info.email_verified };
    },
  };
}

/** The newest mail to `to` whose subject matches: its link and its code. */
async function mailTo(to: string, subject: RegExp): Promise<{ link: string; code: string }> {
  await login.register.settled();
  const mail = login.register.mailbox.list(to).find((m) => subject.test(m.subject));
  const link = mail && /(http\S+#token=\S+)/.exec(mail.text)?.[1];
  const code = mail && /code: (\S+)/.exec(mail.text)?.[1];
  if (!link || !code) throw new Error(`no mail to ${to} matching ${subject}`);
  return { link, code };
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

describeInBrowser(`journeys between login and register in a real browser (${CHROMIUM})`, () => {
  it('signs up from the sign-in page, confirms the address through the mailed link, and comes back to finish the sign-in', async () => {
    await inBrowser(
      async (context, page) => {
        const flow = await authorization(page);
        await page.click('text=Create an account');
        expect(page.url().startsWith(`${login.registerUrl}/t/${slug}/sign-up?return_to=`)).toBe(true);
        await page.fill('#email', 'newcomer@example.com');
        await page.fill('#password', STRONG_PASSWORD);
        await page.click('button[type=submit]');
        await page.waitForSelector('text=Check your inbox');

        // The mailed link carries the code in its fragment: the page's script puts it in the form.
        // Opened from the mail client, in a tab of its own.
        const { link, code } = await mailTo('newcomer@example.com', /confirm/);
        const mailTab = await context.newPage();
        await mailTab.goto(link);
        await mailTab.waitForFunction('!location.hash');
        expect(await mailTab.inputValue('#token')).toBe(code);
        await mailTab.click('button[type=submit]');
        await mailTab.waitForSelector('text=your e-mail address is confirmed');
        await mailTab.close();
        // Back in the first tab, the journey goes on where it started.
        await page.click('text=Continue to sign in');
        await signIn(page, 'newcomer@example.com', STRONG_PASSWORD);
        expect(await flow.exchange()).toEqual({ email: 'newcomer@example.com', email_verified: true });
      },
      { javaScript: true },
    );
  });

  it('recovers a forgotten password without JavaScript: the code typed from the mail, a new password, then sign-in with it', async () => {
    await login.signUp(slug, 'forgetful@example.com');
    await inBrowser(async (_context, page) => {
      const flow = await authorization(page);
      const signInUrl = page.url();
      await page.click('text=Forgot your password?');
      await page.fill('#email', 'forgetful@example.com');
      await page.click('button[type=submit]');
      await page.waitForSelector('text=we sent it a link to choose a new password');

      const { link, code } = await mailTo('forgetful@example.com', /reset/);
      await page.goto(link);
      expect(await page.inputValue('#token')).toBe('');
      await page.fill('#token', code);
      await page.fill('#password', 'an entirely new passphrase');
      await page.click('button[type=submit]');
      await page.waitForSelector('text=Your new password is set');

      await page.goto(signInUrl);
      await page.fill('#email', 'forgetful@example.com');
      await page.fill('#password', STRONG_PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('text=The e-mail address or the password is not correct.');
      await signIn(page, 'forgetful@example.com', 'an entirely new passphrase');
      // The reset link proved the mailbox, as a verification does.
      expect(await flow.exchange()).toEqual({ email: 'forgetful@example.com', email_verified: true });
    });
  });

  it('prompt=create opens the sign-up page; choosing to sign in instead goes on to the sign-in page of the same authorization', async () => {
    await login.signUp(slug, 'returning@example.com');
    const discovery = (await (await fetch(`${login.issuer(slug)}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.prompt_values_supported).toEqual(expect.arrayContaining(['create', 'login', 'consent', 'none']));
    await inBrowser(async (_context, page) => {
      const flow = await authorization(page, { prompt: 'create' });
      expect(page.url().startsWith(`${login.registerUrl}/t/${slug}/sign-up?return_to=`)).toBe(true);
      await page.click('text=I already have an account: sign in');
      await page.waitForSelector('#password');
      expect(page.url().startsWith(`${login.url}/t/${slug}/interaction/`)).toBe(true);
      await signIn(page, 'returning@example.com', STRONG_PASSWORD);
      expect(await flow.exchange()).toEqual({ email: 'returning@example.com', email_verified: false });
    });
  });
});
