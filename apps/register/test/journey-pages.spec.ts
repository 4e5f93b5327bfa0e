import request from 'supertest';
import { STRONG_PASSWORD, startRegister, type RegisterHarness } from '../../../test/support/register-harness';

const LOGIN = 'https://login.example.test';

/** A browser: keeps register's cookies, reads each page's form token, posts forms as a browser does. */
function browserOf(register: RegisterHarness) {
  const agent = request.agent(register.app.getHttpServer());
  let csrf = '';
  const remember = (html: string) => {
    const found = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (found) csrf = found;
  };
  return {
    async open(path: string) {
      const response = await agent.get(path);
      remember(response.text);
      return response;
    },
    async submit(path: string, fields: Record<string, string>) {
      const response = await agent
        .post(path)
        .type('form')
        .send({ csrf, ...fields });
      remember(response.text);
      return response;
    },
  };
}

describe('hosted journey pages', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string };
  beforeAll(async () => {
    register = await startRegister({ LOGIN_PUBLIC_URL: LOGIN });
    tenant = await register.createTenant();
  });
  afterAll(async () => {
    await register?.close();
  });

  const sentTo = (to: string) => register.mailbox.list(to).length;

  test('sign-up page: creates the account through the same rules as the API, then says to check the inbox', async () => {
    const browser = browserOf(register);
    const page = await browser.open(`/t/${tenant.slug}/sign-up`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['set-cookie']?.[0]).toMatch(new RegExp(`^tessera_forms=[^;]+; Path=/t/${tenant.slug}; HttpOnly; SameSite=Strict`));
    expect(page.text).toContain('<label for="password">Password</label>');

    const weak = await browser.submit(`/t/${tenant.slug}/sign-up`, { email: 'page@example.com', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.text).toMatch(/class="error" role="alert">Password: /);
    expect(weak.text).toContain('value="page@example.com"');

    const created = await browser.submit(`/t/${tenant.slug}/sign-up`, { email: 'page@example.com', password: STRONG_PASSWORD });
    expect(created.status).toBe(201);
    expect(created.text).toContain('Check your inbox');
    await register.settled();
    expect(sentTo('page@example.com')).toBe(1);

    const again = await browser.submit(`/t/${tenant.slug}/sign-up`, { email: 'page@example.com', password: STRONG_PASSWORD });
    expect(again.status).toBe(409);
    expect(again.text).toContain('An account with this e-mail address exists already');
  });

  test('a form without this browser’s token, or posted from another browser, is refused and stores nothing', async () => {
    const stranger = await register
      .http()
      .post(`/t/${tenant.slug}/sign-up`)
      .type('form')
      .send({ email: 'forged@example.com', password: STRONG_PASSWORD });
    expect(stranger.status).toBe(403);
    expect(stranger.headers['content-type']).toMatch(/^application\/problem\+json/);

    // A token read by one browser does not work with another browser's cookie.
    const victim = browserOf(register);
    const page = await victim.open(`/t/${tenant.slug}/sign-up`);
    const token = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const attacker = browserOf(register);
    await attacker.open(`/t/${tenant.slug}/sign-up`);
    const forged = await attacker.submit(`/t/${tenant.slug}/sign-up`, {
      csrf: token,
      email: 'forged@example.com',
      password: STRONG_PASSWORD,
    });
    expect(forged.status).toBe(403);
    const taken = await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'forged@example.com', password: STRONG_PASSWORD });
    expect(taken.status).toBe(201);
  });

  test('the mailed verification link: a button confirms, a used link says so and offers a new one, which works', async () => {
    await register.signUp(tenant.slug, 'verify@example.com');
    const token = await register.mailedToken('verify@example.com', /confirm/);
    const browser = browserOf(register);
    const page = await browser.open(`/t/${tenant.slug}/verify-email`);
    expect(page.status).toBe(200);
    // The link's #token= reaches the form through the page's own script; the CSP allows it and nothing else.
    expect(page.text).toContain('<script src="/pages/mailed-token.js" defer></script>');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const script = await register.http().get('/pages/mailed-token.js');
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.text).toContain("get('token')");

    const verified = await browser.submit(`/t/${tenant.slug}/verify-email`, { token });
    expect(verified.status).toBe(200);
    expect(verified.text).toContain('your e-mail address is confirmed');

    const used = await browser.submit(`/t/${tenant.slug}/verify-email`, { token });
    expect(used.status).toBe(400);
    expect(used.text).toContain('This link is not valid, or it was used already.');
    expect(used.text).toContain('verify-email/new-link');

    // A confirmed address gets no new link; an address awaiting one does, and only the new one works.
    const before = sentTo('verify@example.com');
    expect((await browser.submit(`/t/${tenant.slug}/verify-email/new-link`, { email: 'verify@example.com' })).status).toBe(202);
    await register.settled();
    expect(sentTo('verify@example.com')).toBe(before);

    await register.signUp(tenant.slug, 'late@example.com');
    const first = await register.mailedToken('late@example.com', /confirm/);
    const asked = await browser.submit(`/t/${tenant.slug}/verify-email/new-link`, { email: 'late@example.com' });
    expect(asked.status).toBe(202);
    expect(asked.text).toContain('If this address awaits confirmation');
    const unknown = await browser.submit(`/t/${tenant.slug}/verify-email/new-link`, { email: 'nobody@example.com' });
    expect(unknown.text).toBe(asked.text);
    await register.settled();
    const second = await register.mailedToken('late@example.com', /confirm/);
    expect(second).not.toBe(first);
    expect((await browser.submit(`/t/${tenant.slug}/verify-email`, { token: first })).status).toBe(400);
    expect((await browser.submit(`/t/${tenant.slug}/verify-email`, { token: second })).status).toBe(200);
  });

  test('forgot password and the mailed reset link: the same answer for any address, a new password set with the rules shown', async () => {
    const { id } = await register.signUp(tenant.slug, 'forgetful@example.com');
    expect(await emailVerified(id)).toBe(false);
    const browser = browserOf(register);
    await browser.open(`/t/${tenant.slug}/forgot-password`);
    const known = await browser.submit(`/t/${tenant.slug}/forgot-password`, { email: 'forgetful@example.com' });
    const unknown = await browser.submit(`/t/${tenant.slug}/forgot-password`, { email: 'stranger@example.com' });
    expect(known.status).toBe(202);
    expect(unknown.text).toBe(known.text);
    const token = await register.mailedToken('forgetful@example.com', /reset/);
    expect(sentTo('stranger@example.com')).toBe(0);

    const page = await browser.open(`/t/${tenant.slug}/reset-password`);
    expect(page.text).toContain('At least 10 characters');
    const weak = await browser.submit(`/t/${tenant.slug}/reset-password`, { token, password: 'password123' });
    expect(weak.status).toBe(400);
    expect(weak.text).toMatch(/role="alert">Password: /);
    const changed = await browser.submit(`/t/${tenant.slug}/reset-password`, { token, password: 'a brand new passphrase' });
    expect(changed.status).toBe(200);
    expect(changed.text).toContain('Your new password is set');
    const reused = await browser.submit(`/t/${tenant.slug}/reset-password`, { token, password: 'yet another passphrase' });
    expect(reused.status).toBe(400);
    expect(reused.text).toContain('This link is not valid, or it was used already.');
    // The reset proved the mailbox: the address is verified.
    expect(await emailVerified(id)).toBe(true);
  });

  test('a journey continues only to this tenant’s pages at login, never anywhere a link says', async () => {
    const browser = browserOf(register);
    const interaction = `${LOGIN}/t/${tenant.slug}/interaction/abc123`;
    const kept = await browser.open(`/t/${tenant.slug}/sign-up?return_to=${encodeURIComponent(interaction)}`);
    expect(kept.text).toContain(`href="${escapeForAttribute(interaction)}"`);
    for (const elsewhere of [
      'https://evil.example/t/x/interaction/1',
      `${LOGIN}/t/other-tenant/interaction/1`,
      `${LOGIN}/t/${tenant.slug}/../other-tenant/interaction/1`,
      `https://user:pass@login.example.test/t/${tenant.slug}/interaction/1`,
      'javascript:alert(1)',
    ]) {
      const page = await browser.open(`/t/${tenant.slug}/forgot-password?return_to=${encodeURIComponent(elsewhere)}`);
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('return_to');
      expect(page.text).not.toContain('Back to sign in');
    }
  });

  test('past the request limits the page says to wait, with Retry-After', async () => {
    const limited = await startRegister({ REGISTER_SIGNUPS_PER_ADDRESS: '1' });
    try {
      const slug = (await limited.createTenant()).slug;
      const browser = browserOf(limited);
      await browser.open(`/t/${slug}/sign-up`);
      expect((await browser.submit(`/t/${slug}/sign-up`, { email: 'one@example.com', password: STRONG_PASSWORD })).status).toBe(201);
      const refused = await browser.submit(`/t/${slug}/sign-up`, { email: 'two@example.com', password: STRONG_PASSWORD });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.text).toContain('Too many attempts from here');
    } finally {
      await limited.close();
    }
  });

  async function emailVerified(userId: string): Promise<boolean | undefined> {
    const { rows } = await register.runtime.infrastructure.pool.query<{ email_verified: boolean }>(
      'SELECT email_verified FROM register_profiles WHERE tenant_id = $1 AND user_id = $2',
      [tenant.id, userId],
    );
    return rows[0]?.email_verified;
  }
});

function escapeForAttribute(text: string): string {
  return text.replace(/&/g, '&amp;');
}
