import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { hostileText } from '../../../test/support/hostile-values';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';

const ACME = {
  displayName: 'Acme Rewards',
  logoUrl: 'https://cdn.acme.example/brand/logo.svg',
  primaryColor: '#0B6E4F',
  accentColor: '#f2a541',
  supportEmail: 'help@acme.example',
  termsUrl: 'https://acme.example/terms',
  privacyUrl: 'https://acme.example/privacy',
  defaultLocale: 'fr',
};
const NOTHING = Object.fromEntries(Object.keys(ACME).map((field) => [field, null]));

/** The CSP's style-src hashes must be exactly those of the page's style elements: no other inline style runs. */
function expectStylesAllowedByHash(html: string, csp: string): string[] {
  const styles = [...html.matchAll(/<style>([^<]*)<\/style>/g)].map((match) => match[1]!);
  expect(html.match(/<style/g)?.length).toBe(styles.length);
  const allowed = /style-src ([^;]+);/.exec(csp)![1]!.split(' ');
  expect(allowed).toEqual(styles.map((style) => `'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`));
  expect(csp).not.toContain('unsafe-inline');
  return styles;
}

/**
 * Nothing a tenant typed became markup: no script but the page's own, no event-handler attribute,
 * no link or image off https, mailto or the same origin. Tags end at the first `>` (an escaped one
 * is `&gt;`); what is inside an attribute's quotes is its value, not an attribute.
 */
function expectNothingInjected(html: string): void {
  for (const [script] of html.matchAll(/<script[^>]*>/gi)) expect(script).toMatch(/^<script src="\/pages\/[a-z-]+\.js" defer>$/);
  for (const [tag] of html.matchAll(/<[a-z][^>]*>/gi)) expect(tag.replace(/"[^"]*"/g, '""')).not.toMatch(/\son[a-z]+\s*=/i);
  for (const [, url] of html.matchAll(/\s(?:href|src|action)="([^"]*)"/g)) expect(url).toMatch(/^(?:\/|https:\/\/|mailto:[^:]+$)/);
}

describe('a tenant’s branding', () => {
  let register: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister({ REGISTER_PUBLIC_URL: 'https://register.example.test' });
  });
  afterAll(() => register?.close());

  const admin = () => ({ authorization: `Bearer ${register.adminToken}` });
  const put = (slug: string, body: unknown) =>
    register
      .http()
      .put(`/admin/tenants/${slug}/branding`)
      .set(admin())
      .send(body as object);
  const shown = async (slug: string) => (await register.http().get(`/admin/tenants/${slug}/branding`).set(admin())).body;

  test('the administrator sets and reads it; a field left out is the default; others may not', async () => {
    const { slug } = await register.createTenant();
    expect(await shown(slug)).toEqual(NOTHING);
    const set = await put(slug, ACME);
    expect(set.status).toBe(200);
    expect(set.body).toEqual(ACME);
    expect(await shown(slug)).toEqual(ACME);

    expect((await put(slug, { displayName: 'Acme' })).body).toEqual({ ...NOTHING, displayName: 'Acme' });
    expect((await register.http().put(`/admin/tenants/${slug}/branding`).send(ACME)).status).toBe(401);
    expect((await register.http().get(`/admin/tenants/${slug}/branding`).set('authorization', 'Bearer nope')).status).toBe(403);
    expect((await put('no-such-tenant', ACME)).status).toBe(404);
  });

  test('bad values: 400 problem+json naming each field, and nothing stored', async () => {
    const { slug } = await register.createTenant();
    await put(slug, ACME);
    const refused = await put(slug, {
      ...ACME,
      logoUrl: 'javascript:alert(1)',
      primaryColor: 'red;}</style>',
      privacyUrl: 'http://acme.example/privacy',
      defaultLocale: 'de',
    });
    expect(refused.status).toBe(400);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body.errors.map((error: { pointer: string }) => error.pointer)).toEqual([
      '/logoUrl',
      '/privacyUrl',
      '/primaryColor',
      '/defaultLocale',
    ]);
    expect((await put(slug, { ...ACME, favicon: 'https://acme.example/x.ico' })).body.errors).toEqual([
      { pointer: '/favicon', message: 'unknown field' },
    ]);
    expect(await shown(slug)).toEqual(ACME);
  });

  test('every hosted page carries it: name, logo, colours as custom properties, links; the CSP allows exactly that', async () => {
    const { slug } = await register.createTenant();
    await put(slug, ACME);
    for (const page of ['sign-up', 'verify-email', 'forgot-password', 'reset-password']) {
      const response = await register.http().get(`/t/${slug}/${page}`).set('accept-language', 'en');
      expect(response.status).toBe(200);
      const html = response.text;
      expect(html).toContain('<p class="site">Acme Rewards</p>');
      expect(html).toContain('<img class="logo" src="https://cdn.acme.example/brand/logo.svg" alt="Acme Rewards">');
      expect(html).toContain('<a href="mailto:help@acme.example">Help</a>');
      expect(html).toContain('<a href="https://acme.example/terms" rel="noopener">Terms</a>');
      expect(html).toContain('<a href="https://acme.example/privacy" rel="noopener">Privacy</a>');
      const csp = response.headers['content-security-policy'];
      expect(csp).toContain('img-src https://cdn.acme.example;');
      const [, colours] = expectStylesAllowedByHash(html, csp);
      // A dark green reaches AA on white: buttons get white text, links keep the colour.
      expect(colours).toBe(':root{--primary:#0b6e4f;--on-primary:#ffffff;--link:#0b6e4f;--band:#f2a541}');
    }
  });

  test('a pale colour keeps text readable: ink on its buttons, ink links', async () => {
    const { slug } = await register.createTenant();
    await put(slug, { primaryColor: '#ffe066' });
    const page = await register.http().get(`/t/${slug}/sign-up`);
    const [, colours] = expectStylesAllowedByHash(page.text, page.headers['content-security-policy']);
    expect(colours).toBe(':root{--primary:#ffe066;--on-primary:#1d2330;--link:#1d2330;--band:#ffe066}');
  });

  test('without branding: the tenant’s name, the default theme, no image allowed, no footer', async () => {
    const { slug } = await register.createTenant();
    const page = await register.http().get(`/t/${slug}/sign-up`);
    expect(page.text).toContain(`<p class="site">Tenant ${slug}</p>`);
    expect(page.text).not.toContain('<img');
    expect(page.text).not.toContain('<footer>');
    expect(page.headers['content-security-policy']).not.toContain('img-src');
    expect(expectStylesAllowedByHash(page.text, page.headers['content-security-policy'])).toHaveLength(1);
  });

  test('mails carry it: verification and reset, in text and HTML', async () => {
    const { slug } = await register.createTenant();
    await put(slug, { ...ACME, defaultLocale: 'en' });
    await register.signUp(slug, 'ada@example.com');
    await register.http().post(`/t/${slug}/password-resets`).send({ email: 'ada@example.com' });
    await register.settled();
    const mails = register.mailbox.list('ada@example.com');
    expect(mails.map((mail) => mail.subject).sort()).toEqual([
      'Acme Rewards: confirm your e-mail address',
      'Acme Rewards: reset your password',
    ]);
    for (const mail of mails) {
      expect(mail.text).toContain(
        '\n--\nAcme Rewards\nQuestions? Write to help@acme.example\nTerms: https://acme.example/terms\nPrivacy: https://acme.example/privacy',
      );
      expect(mail.html).toContain('<img src="https://cdn.acme.example/brand/logo.svg" alt="Acme Rewards"');
      expect(mail.html).toContain('background:#0b6e4f;color:#ffffff');
      expect(mail.html).toContain('border-top:4px solid #f2a541');
      expect(mail.html).toContain('<a href="mailto:help@acme.example"');
      expect(mail.html).toMatch(
        new RegExp(`<a href="https://register.example.test/t/${slug}/(verify-email|reset-password)\\?ui_locales=en#token=[^"]+" style=`),
      );
    }
  });

  test('language: ui_locales, then Accept-Language, then the tenant’s default, then the installation’s', async () => {
    const { slug } = await register.createTenant();
    const lang = async (query: string, acceptLanguage?: string) => {
      const call = register.http().get(`/t/${slug}/sign-up${query}`);
      const page = await (acceptLanguage ? call.set('accept-language', acceptLanguage) : call);
      return /<html lang="([a-z]+)">/.exec(page.text)![1];
    };
    expect(await lang('')).toBe('en');
    await put(slug, { defaultLocale: 'fr' });
    expect(await lang('')).toBe('fr');
    expect(await lang('', 'de-DE, ja;q=0.5')).toBe('fr');
    expect(await lang('', 'en-GB')).toBe('en');
    expect(await lang('?ui_locales=en', 'fr')).toBe('en');

    // An API call's mail: Accept-Language, else the tenant's default.
    await register.signUp(slug, 'defaut@example.com');
    await register
      .http()
      .post(`/t/${slug}/users`)
      .set('accept-language', 'en')
      .send({ email: 'asked@example.com', password: 'a long passphrase' });
    await register.settled();
    expect(register.mailbox.list('defaut@example.com')[0]?.subject).toMatch(/confirmez votre adresse e-mail$/);
    expect(register.mailbox.list('asked@example.com')[0]?.subject).toMatch(/confirm your e-mail address$/);
  });

  test('a name with markup in it is a name: shown as text on pages and in mails', async () => {
    const { slug } = await register.createTenant();
    const name = '"><img src=x onerror=alert(1)></style><script>alert(2)</script>';
    expect((await put(slug, { displayName: name })).status).toBe(200);
    const page = await register.http().get(`/t/${slug}/sign-up`);
    expectNothingInjected(page.text);
    expect(page.text).toContain(
      '<p class="site">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/style&gt;&lt;script&gt;alert(2)&lt;/script&gt;</p>',
    );
    await register.signUp(slug, 'markup@example.com');
    await register.settled();
    const [mail] = register.mailbox.list('markup@example.com');
    expectNothingInjected(mail!.html!);
    expect(mail!.subject).toContain(name);
  });

  describe('hostile brands', () => {
    const url = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('https://cdn.example/logo.svg', 'https://img.example.org:8443/a/b.png?v=2&w=1', null) },
      fc.constantFrom(
        'javascript:alert(1)',
        'JaVaScRiPt:alert(document.cookie)',
        'https://x.example/"><script>alert(1)</script>',
        "https://x.example/' onerror='alert(1)",
        'https://x.example/</style><script>alert(1)</script>',
        'data:image/svg+xml,<svg onload=alert(1)>',
        'http://x.example/logo.png',
        '//evil.example/logo.png',
        'https://x.example/a\nb',
        ' https://x.example/',
        'https://user:pw@x.example/',
        `https://x.example/${'a'.repeat(5000)}`,
      ),
      hostileText(),
    );
    const colour = fc.oneof(
      { weight: 12, arbitrary: fc.oneof(fc.stringMatching(/^#[0-9a-fA-F]{6}$/), fc.constant(null)) },
      fc.constantFrom('red', '#fff', '#0b6e4f;}</style><script>alert(1)</script>', 'url(https://evil.example/x)', '#0b6e4f\n', '#12345g'),
      hostileText(),
    );
    const text = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'Acme',
          'Café <Crème> & "Co"',
          '</style><script>alert(1)</script>',
          '"><img src=x onerror=alert(1)>',
          null,
        ),
      },
      fc.constantFrom('x'.repeat(5000), 'A\u0000B', 'A\nB', '   '),
      hostileText(),
    );
    const email = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom('help@acme.example', null) },
      fc.constantFrom('"><script>alert(1)</script>@x.example', 'help@x.example\r\nBcc: all@x.example', 'help@x.example?subject=hi', 'a@b'),
      hostileText(),
    );
    const brand = fc.record({
      displayName: text,
      logoUrl: url,
      primaryColor: colour,
      accentColor: colour,
      supportEmail: email,
      termsUrl: url,
      privacyUrl: url,
      defaultLocale: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom('en', 'fr', null) },
        fc.constantFrom('de', 'FR', 'fr-FR', '', '<script>'),
      ),
    });
    const URL_FIELDS = ['logoUrl', 'termsUrl', 'privacyUrl'] as const;
    const COLOUR_FIELDS = ['primaryColor', 'accentColor'] as const;

    test('are refused field by field, or stored and rendered as text: never markup, never a stored half', async () => {
      const { slug } = await register.createTenant();
      let inForce: unknown = NOTHING;
      await fc.assert(
        fc.asyncProperty(brand, async (sent) => {
          const answer = await put(slug, sent);
          expect([200, 400]).toContain(answer.status);
          const refusedFields = answer.status === 400 ? answer.body.errors.map((error: { pointer: string }) => error.pointer) : [];
          // Whatever breaks the rules that keep markup out is always among the refused fields.
          for (const field of URL_FIELDS)
            if (sent[field] !== null && !/^https:\/\/[^\s"'<>\\]+$/.test(sent[field]!)) expect(refusedFields).toContain(`/${field}`);
          for (const field of COLOUR_FIELDS)
            if (sent[field] !== null && !/^#[0-9a-fA-F]{6}$/.test(sent[field]!)) expect(refusedFields).toContain(`/${field}`);
          if (answer.status === 200) inForce = sent;
          expect(await shown(slug)).toEqual(inForce);

          const page = await register.http().get(`/t/${slug}/verify-email`);
          expect(page.status).toBe(200);
          expectStylesAllowedByHash(page.text, page.headers['content-security-policy']);
          expectNothingInjected(page.text);
          const logo = (inForce as typeof ACME).logoUrl;
          const imgSrc = /img-src ([^;]+);/.exec(page.headers['content-security-policy'])?.[1];
          expect(imgSrc).toBe(logo ? new URL(logo).origin : undefined);
        }),
        { numRuns: 80 },
      );
    });
  });
});
