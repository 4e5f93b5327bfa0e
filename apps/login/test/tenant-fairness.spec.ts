import * as oidc from 'openid-client';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { startLogin, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

/**
 * One tenant flooding login's hot routes (the token endpoint, the sign-in form) holds only its own
 * share of the requests in flight: the flood's excess gets 429 with Retry-After, and another
 * tenant's calls made during the flood are all served.
 */
let login: LoginHarness;

beforeAll(async () => {
  login = await startLogin({ LOGIN_OIDC_REQUESTS_PER_TENANT: '2', LOGIN_SIGNINS_PER_TENANT: '1', LOGIN_IP_FAILURE_LIMIT: '1000000' });
});
afterAll(() => login?.close());

/** `clients` loops sending `request` back to back until `during` has run; returns what they were answered. */
async function flood<T>(clients: number, request: (n: number) => Promise<T>, during: () => Promise<void>): Promise<T[]> {
  let going = true;
  const answers: T[] = [];
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; going; i++) answers.push(await request(client * 1_000_000 + i));
  });
  try {
    // The flood is under way before the other tenant asks.
    const deadline = Date.now() + 10_000;
    while (answers.length < clients * 2) {
      if (Date.now() > deadline) throw new Error('the flood never got going');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await during();
  } finally {
    going = false;
    await Promise.all(loops);
  }
  return answers;
}

function expectSomeRefusedWithRetryAfter(answers: readonly { status: number; retryAfter: string | null }[], served: number) {
  const refused = answers.filter((answer) => answer.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  expect(answers.filter((answer) => answer.status === served).length).toBeGreaterThan(0);
  expect(answers.filter((answer) => answer.status !== 429 && answer.status !== served)).toEqual([]);
  for (const answer of refused) expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
}

test("a tenant flooding its token endpoint gets 429s; another tenant's token requests during the flood are all served", async () => {
  const clientOf = async () => {
    const { slug } = await login.createTenant();
    const client = await login.registerClient(slug, { name: 'Service', type: 'confidential', grantTypes: ['client_credentials'] });
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    return async () => {
      const response = await fetch(`${login.issuer(slug)}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        type: response.headers.get('content-type'),
        body: await response.text(),
      };
    };
  };
  const [noisy, quiet] = await Promise.all([clientOf(), clientOf()]);
  const answers = await flood(24, noisy, async () => {
    for (let i = 0; i < 8; i++) {
      const answer = await quiet();
      expect({ status: answer.status, body: answer.body.slice(0, 200) }).toEqual({
        status: 200,
        body: expect.stringContaining('access_token'),
      });
    }
  });
  expectSomeRefusedWithRetryAfter(answers, 200);
  const refused = answers.find((answer) => answer.status === 429)!;
  expect(refused.type).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(refused.body)).toMatchObject({ status: 429, type: 'https://tessera.dev/problems/rate-limited' });
});

test("a tenant flooding its sign-in form gets the page with 429; another tenant's people sign in during the flood", async () => {
  const tenantWithClient = async () => {
    const { slug } = await login.createTenant();
    await login.signUp(slug, 'ada@example.com');
    const { clientId } = await login.registerClient(slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] });
    const config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    return { slug, config };
  };
  const [noisy, quiet] = await Promise.all([tenantWithClient(), tenantWithClient()]);
  // One sign-in page of the noisy tenant, posted over and over with wrong passwords for addresses nobody has.
  const { browser, form } = await openSignInPage(noisy.config);
  const wrongPassword = async (n: number) => {
    const answer = await browser.request(form.action, {
      form: { ...form.fields, email: `nobody-${n}@example.com`, password: 'not the password' },
    });
    return { status: answer.status, retryAfter: answer.headers.get('retry-after'), body: answer.body };
  };
  const answers = await flood(16, wrongPassword, async () => {
    for (let i = 0; i < 4; i++) {
      const page = await openSignInPage(quiet.config);
      const posted = await page.browser.request(page.form.action, {
        form: { ...page.form.fields, email: 'ada@example.com', password: STRONG_PASSWORD },
      });
      expect(posted.status).toBe(303);
    }
  });
  expectSomeRefusedWithRetryAfter(answers, 401);
  expect(answers.find((answer) => answer.status === 429)!.body).toContain('Try again in a moment');
});
