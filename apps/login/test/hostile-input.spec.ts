import fc from 'fast-check';
import * as oidc from 'openid-client';
import { blindIndex } from '#personal-data';
import { anyValue, hostileText, mostly } from '../../../test/support/hostile-values';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { signInStreamFor } from '../src/sign-in/sign-in.events';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

/**
 * login's edges against what an attacker sends: the admin API's client registration (names,
 * redirect URIs) and the hosted sign-in form (e-mail, password). Every answer is a 4xx naming the
 * problem (the page itself, with its error, for the form), never a 5xx, and nothing is stored.
 */
let login: LoginHarness;
let tenant: { id: string; slug: string };

beforeAll(async () => {
  login = await startLogin({ LOGIN_IP_FAILURE_LIMIT: '100000' });
  tenant = await login.createTenant();
});
afterAll(() => login?.close());

async function stored(): Promise<{ events: number; clients: number }> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ events: number; clients: number }>(
    'SELECT (SELECT count(*)::int FROM es_events) AS events, (SELECT count(*)::int FROM login_clients) AS clients',
  );
  return rows[0]!;
}

const registerClient = (body: unknown, slug = tenant.slug) =>
  fetch(`${login.url}/admin/tenants/${slug}/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${login.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('client registration', () => {
  const NUL = '\u0000';
  test.each([
    ['a NUL in the name', { name: `App${NUL}` }, '/name'],
    ['an unpaired surrogate in the name', { name: 'App \ud800' }, '/name'],
    ['a line break in the name', { name: 'App\r\nX-Injected: yes' }, '/name'],
    ['a name past its length', { name: 'A'.repeat(201) }, '/name'],
    ['a NUL in a redirect URI', { redirectUris: [`https://app.example.com/cb${NUL}`] }, '/redirectUris/0'],
    ['a tab in a redirect URI (the URL parser would drop it)', { redirectUris: ['https://app.example.com/c\tb'] }, '/redirectUris/0'],
    ['a line break in a redirect URI', { redirectUris: ['https://app.example.com/cb\n'] }, '/redirectUris/0'],
    ['a redirect URI past its length', { redirectUris: [`https://app.example.com/${'a'.repeat(2000)}`] }, '/redirectUris/0'],
    [
      'a control character in a post-logout URI',
      { postLogoutRedirectUris: ['https://app.example.com/\u0007bye'] },
      '/postLogoutRedirectUris/0',
    ],
  ])('%s is a 400 naming the field, and stores nothing', async (_name, override, pointer) => {
    const before = await stored();
    const response = await registerClient({ name: 'App', type: 'public', redirectUris: [REDIRECT_URI], ...override });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await response.json()) as { errors: { pointer: string }[] };
    expect(body.errors.map((error) => error.pointer)).toContain(pointer);
    expect(await stored()).toEqual(before);
  });

  test('a client id that login could not have minted names no client (404), on every client route', async () => {
    const headers = { authorization: `Bearer ${login.adminToken}` };
    const base = `${login.url}/admin/tenants/${tenant.slug}/clients`;
    const before = await stored();
    for (const id of ['%00', 'a%0Ab', 'x'.repeat(65)]) {
      const answers = await Promise.all([
        fetch(`${base}/${id}/secret`, { method: 'POST', headers }),
        fetch(`${base}/${id}/redirect-uris`, {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ redirectUris: [REDIRECT_URI] }),
        }),
        fetch(`${base}/${id}`, { method: 'DELETE', headers }),
      ]);
      expect(answers.map((answer) => answer.status)).toEqual([404, 404, 404]);
    }
    expect(await stored()).toEqual(before);
  });

  test('generated hostile bodies: 201 or 4xx, never 5xx, and a 4xx stores nothing', async () => {
    const text = hostileText(['x'.repeat(2100), 'javascript:alert(1)']);
    const orHostile = <T>(valid: fc.Arbitrary<T>) => mostly(valid, anyValue(text));
    const uri = orHostile(
      fc.oneof(
        fc.constantFrom(REDIRECT_URI, 'https://app.example.com/callback', 'http://127.0.0.1:8080/cb?x=1'),
        fc.tuple(fc.constantFrom('https://app.example.com/', 'http://localhost/'), text).map(([base, path]) => `${base}${path}`),
        fc.webUrl(),
      ),
    );
    const body = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record(
          {
            name: orHostile(fc.constantFrom('App', 'Ünïcödé app ✓', 'Backend')),
            type: orHostile(fc.constantFrom('public', 'confidential')),
            redirectUris: orHostile(fc.array(uri, { maxLength: 3 })),
            postLogoutRedirectUris: orHostile(fc.array(uri, { maxLength: 2 })),
            grantTypes: orHostile(fc.subarray(['authorization_code', 'refresh_token', 'client_credentials'], { minLength: 1 })),
          },
          { requiredKeys: ['name', 'type'] },
        ),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
    );
    let created = 0;
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const before = await stored();
        const response = await registerClient(generated);
        expect({ status: response.status, fine: response.status === 201 || (response.status >= 400 && response.status < 500) }).toEqual({
          status: response.status,
          fine: true,
        });
        if (response.status === 201) {
          created += 1;
          return;
        }
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await stored()).toEqual(before);
      }),
      { numRuns: 150 },
    );
    // The generator reaches the accepting path too (about one body in ten), not only refusals.
    expect(created).toBeGreaterThan(2);
  });
});

describe('the hosted sign-in form', () => {
  let clientId: string;
  beforeAll(async () => {
    ({ clientId } = await login.registerClient(tenant.slug, { name: 'Form app', type: 'public', redirectUris: [REDIRECT_URI] }));
    await login.signUp(tenant.slug, 'formal@example.com');
  });
  const signInPage = async () =>
    openSignInPage(
      await oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] }),
    );
  const attemptsOf = async (email: string) => {
    const accountKey = blindIndex(login.runtime.infrastructure.blindIndexKey, tenant.id, 'email', email);
    return (await login.runtime.infrastructure.eventStore.readStream(signInStreamFor(tenant.id, accountKey))).length;
  };

  test.each([
    ['a NUL in the e-mail', { email: 'formal\u0000@example.com' }, 400, 'Enter your e-mail address'],
    ['a control character in the e-mail', { email: 'formal@example.com\u001b[2J' }, 400, 'Enter your e-mail address'],
    ['an e-mail past its length', { email: `${'a'.repeat(250)}@example.com` }, 400, 'Enter your e-mail address'],
    ['an empty e-mail', { email: '' }, 400, 'Enter your e-mail address'],
    ['an empty password', { password: '' }, 400, 'Enter your password'],
    ['a NUL in the password', { password: `${STRONG_PASSWORD}\u0000` }, 401, 'not correct'],
    ['a password longer than register accepts', { password: 'long enough '.repeat(30) }, 401, 'not correct'],
  ])('%s answers the page with its error, and costs no attempt', async (_name, override, status, error) => {
    const { browser, form } = await signInPage();
    const before = await attemptsOf('formal@example.com');
    const fields = { ...form.fields, email: 'formal@example.com', password: STRONG_PASSWORD, ...override };
    const answer = await browser.request(form.action, { form: fields });
    expect(answer.status).toBe(status);
    expect(answer.body).toContain('<form method="post"');
    expect(answer.body).toContain(error);
    expect(await attemptsOf('formal@example.com')).toBe(before);
    // The same page still signs the person in.
    const signedIn = await browser.request(form.action, {
      form: { ...form.fields, email: 'formal@example.com', password: STRONG_PASSWORD },
    });
    expect(signedIn.status).toBe(303);
  });

  test('a field sent twice, or posted as JSON of another type, answers the page with its error', async () => {
    const { browser, form } = await signInPage();
    const csrf = encodeURIComponent(form.fields.csrf!);
    const twice = await browser.request(form.action, {
      raw: {
        contentType: 'application/x-www-form-urlencoded',
        body: `csrf=${csrf}&email=formal%40example.com&email=other%40example.com&password=${encodeURIComponent(STRONG_PASSWORD)}`,
      },
    });
    expect(twice.status).toBe(400);
    expect(twice.body).toContain('Enter your e-mail address');
    const typed = await browser.request(form.action, {
      raw: {
        contentType: 'application/json',
        body: JSON.stringify({ csrf: form.fields.csrf, email: 'formal@example.com', password: { $ne: '' } }),
      },
    });
    expect(typed.status).toBe(400);
    expect(typed.body).toContain('Enter your password');
    // A form cannot carry an unpaired surrogate (it is sent as U+FFFD); JSON can.
    const before = await attemptsOf('formal@example.com');
    const surrogate = await browser.request(form.action, {
      raw: {
        contentType: 'application/json',
        body: JSON.stringify({ csrf: form.fields.csrf, email: 'formal@example.com', password: `${STRONG_PASSWORD}\ud800` }),
      },
    });
    expect(surrogate.status).toBe(401);
    expect(surrogate.body).toContain('not correct');
    expect(await attemptsOf('formal@example.com')).toBe(before);
  });
});

describe('the OpenID endpoints', () => {
  let publicClient: string;
  let confidential: { clientId: string; clientSecret?: string };
  beforeAll(async () => {
    ({ clientId: publicClient } = await login.registerClient(tenant.slug, {
      name: 'Ids app',
      type: 'public',
      redirectUris: [REDIRECT_URI],
    }));
    confidential = await login.registerClient(tenant.slug, {
      name: 'Ids service',
      type: 'confidential',
      grantTypes: ['client_credentials'],
    });
  });
  const basic = (user: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const post = (path: string, form: Record<string, string>, authorization?: string) =>
    fetch(`${login.issuer(tenant.slug)}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
      body: new URLSearchParams(form).toString(),
    });
  const authorize = (params: Record<string, string>) =>
    fetch(
      `${login.issuer(tenant.slug)}/auth?${new URLSearchParams({ response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', ...params })}`,
      {
        redirect: 'manual',
      },
    );

  // Any tenant can send these; a NUL reached PostgreSQL, which cannot hold it in text, and answered 500.
  // Unknown tokens are inactive (introspection) and revoked already (revocation), as RFC 7662 and 7009 say.
  test.each([
    ['a client id with a NUL, in the form', () => post('/token', { grant_type: 'client_credentials', client_id: 'a\u0000b' }), 401],
    ['a client id with a NUL, in Basic', () => post('/token', { grant_type: 'client_credentials' }, basic('a\u0000b', 'secret')), 400],
    ['a client id past any login mints', () => post('/token', { grant_type: 'client_credentials', client_id: 'c'.repeat(600) }), 401],
    [
      'a code with a NUL',
      () => post('/token', { grant_type: 'authorization_code', client_id: publicClient, code: 'a\u0000b', redirect_uri: REDIRECT_URI }),
      400,
    ],
    [
      'a refresh token with a NUL',
      () => post('/token', { grant_type: 'refresh_token', client_id: publicClient, refresh_token: 'a\u0000b' }),
      400,
    ],
    [
      'a token to introspect with a NUL',
      () => post('/token/introspection', { token: 'a\u0000b' }, basic(confidential.clientId, confidential.clientSecret!)),
      200,
    ],
    [
      'a token to revoke with a NUL',
      () => post('/token/revocation', { token: 'a\u0000b' }, basic(confidential.clientId, confidential.clientSecret!)),
      200,
    ],
    ['an authorization for a client id with a NUL', () => authorize({ client_id: 'a\u0000b' }), 400],
    // The client is known, so the error goes back to its redirect URI.
    [
      'a pushed request URI with a NUL',
      () => authorize({ client_id: publicClient, request_uri: 'urn:ietf:params:oauth:request_uri:a\u0000b' }),
      303,
    ],
  ])('%s is refused as OAuth says, never a 500', async (_name, send, status) => {
    const response = await send();
    const body = await response.text();
    expect({ status: response.status, inactive: status !== 200 || !body.includes('"active":true') }).toEqual({ status, inactive: true });
    if (status === 303) expect(response.headers.get('location')).toMatch(/[?&]error=/);
  });
});
