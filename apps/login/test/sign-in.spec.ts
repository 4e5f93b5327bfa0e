import * as oidc from 'openid-client';
import { blindIndex } from '#personal-data';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { signInStreamFor } from '../src/sign-in/sign-in.events';
import { startLogin, statementsSentBy, type LoginHarness } from './login-harness';
import { FormBrowser } from './browser-less';
import { openSignInPage, REDIRECT_URI } from './sign-in-flow';

const THRESHOLD = 3;
const GENERIC_ERROR = 'The e-mail address or the password is not correct.';

let login: LoginHarness;
let tenant: { id: string; slug: string };
let clientId: string;

beforeAll(async () => {
  // 50 parallel posts must all reach the account's lock: the per-tenant share of sign-ins is not under test here.
  login = await startLogin({ LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD), LOGIN_IP_FAILURE_LIMIT: '1000', LOGIN_SIGNINS_PER_TENANT: '100' });
  tenant = await login.createTenant();
  ({ clientId } = await login.registerClient(tenant.slug, { name: 'App', type: 'public', redirectUris: [REDIRECT_URI] }));
});

afterAll(() => login?.close());

const clientConfig = () =>
  oidc.discovery(new URL(login.issuer(tenant.slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });

/** Opens the hosted sign-in page of a fresh authorization request. */
async function signInPage() {
  return openSignInPage(await clientConfig());
}

async function attempts(email: string) {
  const accountKey = blindIndex(login.runtime.infrastructure.blindIndexKey, tenant.id, 'email', email);
  const events = await login.runtime.infrastructure.eventStore.readStream(signInStreamFor(tenant.id, accountKey));
  return events.map((e) => (e.type === 'LoginFailed' ? `LoginFailed:${String(e.data.reason)}` : e.type));
}

/** 50 wrong passwords: exactly THRESHOLD were checked (401), the rest refused as locked (429), one lock-out recorded. */
async function expectThresholdVerificationsOnly(responses: readonly { status: number }[], email: string) {
  const statuses = responses.map((r) => r.status);
  expect(statuses.filter((s) => s === 401)).toHaveLength(THRESHOLD);
  expect(statuses.filter((s) => s === 429)).toHaveLength(50 - THRESHOLD);
  const recorded = await attempts(email);
  expect(recorded.filter((e) => e === 'LoginFailed:invalid_credentials')).toHaveLength(THRESHOLD);
  expect(recorded.filter((e) => e === 'AccountLocked')).toHaveLength(1);
}

describe('hosted sign-in', () => {
  it("shows the tenant's name, escapes what the person typed and answers unknown accounts like wrong passwords", async () => {
    await login.signUp(tenant.slug, 'grace@example.com');
    const { browser, form, page } = await signInPage();
    expect(page.body).toContain(`Tenant ${tenant.slug}`);
    // The one script is login's own passkey script; nothing the request carried became one.
    expect(page.body.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/passkeys.js" defer>']);

    const hostile = '"><script>alert(1)</script>@example.com';
    const unknown = await browser.request(form.action, { form: { ...form.fields, email: hostile, password: 'whatever it is' } });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain(GENERIC_ERROR);
    expect(unknown.body).not.toContain('<script>');
    expect(unknown.body).toContain('&quot;&gt;&lt;script&gt;');

    const wrong = await browser.request(form.action, {
      form: { ...form.fields, email: 'grace@example.com', password: 'not her password' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain(GENERIC_ERROR);
    expect(await attempts('grace@example.com')).toEqual(['LoginFailed:invalid_credentials']);
  });

  it('refuses a form without its CSRF token, and records no attempt', async () => {
    await login.signUp(tenant.slug, 'csrf@example.com');
    const { browser, form } = await signInPage();
    const response = await browser.request(form.action, { form: { email: 'csrf@example.com', password: STRONG_PASSWORD } });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ type: expect.stringContaining('csrf-token-invalid') });
    const forged = await browser.request(form.action, { form: { csrf: 'forged', email: 'csrf@example.com', password: STRONG_PASSWORD } });
    expect(forged.status).toBe(403);
    expect(await attempts('csrf@example.com')).toEqual([]);
  });

  it('locks the account after N failures, even for the right password, and a password reset unlocks it', async () => {
    await login.signUp(tenant.slug, 'linus@example.com');
    const { browser, form } = await signInPage();
    for (let i = 0; i < THRESHOLD; i++) {
      const wrong = await browser.request(form.action, {
        form: { ...form.fields, email: 'linus@example.com', password: `wrong password ${i}` },
      });
      expect(wrong.status).toBe(401);
    }
    const locked = await browser.request(form.action, { form: { ...form.fields, email: 'linus@example.com', password: STRONG_PASSWORD } });
    expect(locked.status).toBe(429);
    expect(await attempts('linus@example.com')).toEqual([
      'LoginFailed:invalid_credentials',
      'LoginFailed:invalid_credentials',
      'LoginFailed:invalid_credentials',
      'AccountLocked',
      'LoginFailed:locked',
    ]);

    const register = login.register.http();
    await register.post(`/t/${tenant.slug}/password-resets`).send({ email: 'linus@example.com' }).expect(202);
    const token = await login.register.mailedToken('linus@example.com', /reset your password/);
    const newPassword = 'a brand new passphrase here';
    const confirmed = await register.post(`/t/${tenant.slug}/password-resets/confirm`).send({ token, password: newPassword });
    expect(confirmed.status).toBe(200);
    let signedIn = { status: 0 };
    for (let i = 0; i < 100 && signedIn.status !== 303; i++) {
      const fresh = await signInPage();
      signedIn = await fresh.browser.request(fresh.form.action, {
        form: { ...fresh.form.fields, email: 'linus@example.com', password: newPassword },
      });
      if (signedIn.status !== 303) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(signedIn.status).toBe(303);
    expect((await attempts('linus@example.com')).at(-1)).toBe('LoginSucceeded');
  });

  it('never lets 50 parallel wrong passwords buy more than N verifications', async () => {
    await login.signUp(tenant.slug, 'race@example.com');
    const { browser, form } = await signInPage();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        browser.request(form.action, { form: { ...form.fields, email: 'race@example.com', password: `guess number ${i}` } }),
      ),
    );
    await expectThresholdVerificationsOnly(responses, 'race@example.com');
  });
  it('never lets 50 parallel wrong passwords spread over two replicas buy more than N verifications', async () => {
    // Each replica queues its own attempts; only the account's lock in PostgreSQL orders them across replicas.
    await login.signUp(tenant.slug, 'replicas@example.com');
    const replica = await login.startReplica();
    try {
      const { browser, form } = await signInPage();
      const viaReplica = form.action.replace(login.url, replica.url);
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          browser.request(i % 2 === 0 ? form.action : viaReplica, {
            form: { ...form.fields, email: 'replicas@example.com', password: `guess number ${i}` },
          }),
        ),
      );
      await expectThresholdVerificationsOnly(responses, 'replicas@example.com');
    } finally {
      await replica.close();
    }
  });

  it('resumes the authorization the sign-in completed, whatever resume cookie the browser sends itself', async () => {
    const email = 'ida@example.com';
    const { id } = await login.signUp(tenant.slug, email);
    const config = await clientConfig();
    const first = await openSignInPage(config);
    // Another authorization's resume cookie, genuine (signed by login), sent ahead of the first one's with its sign-in post.
    const other = await openSignInPage(config);
    const otherResume = other.browser
      .cookieHeader()
      .split('; ')
      .filter((pair) => pair.startsWith('_interaction_resume'));
    expect(otherResume).toHaveLength(2);
    const posted = await first.browser.request(first.form.action, {
      form: { ...first.form.fields, email, password: STRONG_PASSWORD },
      cookiesBefore: otherResume.join('; '),
    });
    expect(posted.status).toBe(303);
    // On to the first authorization's consent, then its code: not back into the other authorization's sign-in.
    const consentPage = await first.browser.request(posted.location!);
    expect(consentPage.body).toContain('name="decision"');
    const consent = FormBrowser.form(consentPage);
    const allowed = await first.browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
    const landed = await first.browser.follow(allowed.location!, REDIRECT_URI);
    expect(landed.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(landed.location!), { pkceCodeVerifier: first.verifier });
    expect(tokens.claims()!.sub).toBe(id);
  });

  it("reads a returning person's latest grant with the interaction their sign-in post completes: consent remembered, no grant read of its own", async () => {
    const email = 'jo@example.com';
    const { id } = await login.signUp(tenant.slug, email);
    const config = await clientConfig();
    // The first sign-in allows the client.
    const first = await openSignInPage(config);
    const posted = await first.browser.request(first.form.action, { form: { ...first.form.fields, email, password: STRONG_PASSWORD } });
    const consent = FormBrowser.form(await first.browser.request(posted.location!));
    const allowed = await first.browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
    expect((await first.browser.follow(allowed.location!, REDIRECT_URI)).location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    // Typed another way (case, spaces), the address names the same person.
    const again = await openSignInPage(config);
    const { result: returning, statements } = await statementsSentBy(login.runtime.infrastructure.pool, () =>
      again.browser.request(again.form.action, {
        form: { ...again.form.fields, email: ` ${email.toUpperCase()}`, password: STRONG_PASSWORD },
      }),
    );
    expect(returning.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    // The read also says how far the person's factors have got: no read of them of its own.
    expect(statements.get('login_oidc_find_interaction_with_latest_grant_and_factors')).toBe(1);
    expect(statements.get('tessera_es_read_stream') ?? 0).toBe(0);
    expect(statements.get('login_oidc_find_by_id_with_id') ?? 0).toBe(0);
    expect(statements.get('login_oidc_latest_grant') ?? 0).toBe(0);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(returning.location!), { pkceCodeVerifier: again.verifier });
    expect(tokens.claims()!.sub).toBe(id);
  });

  it("finishes the interaction only together with the sign-in's facts: when LoginSucceeded and SessionStarted cannot be stored, neither is the result nor the code", async () => {
    const email = 'hedy@example.com';
    await login.signUp(tenant.slug, email);
    const pool = login.runtime.infrastructure.pool;
    const { browser, form } = await signInPage();
    const uid = /\/interaction\/([^/]+)\/login$/.exec(form.action)![1]!;
    // The interaction as stored (null once ended), and how many codes and sessions the tenant has.
    const stored = async () => {
      const { rows } = await pool.query<{ model: string; id: string; result: unknown }>(
        "SELECT model, id, payload->'result' AS result FROM login_oidc_models WHERE tenant_id = $1 AND model IN ('Interaction', 'AuthorizationCode', 'Session')",
        [tenant.id],
      );
      const interaction = rows.find((row) => row.model === 'Interaction' && row.id === uid);
      return {
        interaction: interaction ? { result: interaction.result ?? null } : null,
        codes: rows.filter((row) => row.model === 'AuthorizationCode').length,
        sessions: rows.filter((row) => row.model === 'Session').length,
      };
    };
    const before = await stored();
    expect(before.interaction).toEqual({ result: null });
    await pool.query(`CREATE FUNCTION test_refuse_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.stream_name LIKE 'login.session-${tenant.id}.%' THEN RAISE EXCEPTION 'storage refused the session'; END IF; RETURN NEW; END $$`);
    await pool.query('CREATE TRIGGER test_refuse_sessions BEFORE INSERT ON es_events FOR EACH ROW EXECUTE FUNCTION test_refuse_sessions()');
    let refused: { status: number; location?: string; body: string };
    try {
      refused = await browser.request(form.action, { form: { ...form.fields, email, password: STRONG_PASSWORD } });
    } finally {
      await pool.query('DROP TRIGGER test_refuse_sessions ON es_events; DROP FUNCTION test_refuse_sessions()');
    }
    expect(refused.status).toBe(500);
    expect(refused.location).toBeUndefined();
    // The problem names the post, not the resume it ran inside.
    expect(JSON.parse(refused.body)).toMatchObject({ instance: new URL(form.action).pathname });
    expect(await stored()).toEqual(before);
    expect(await attempts(email)).toEqual([]);

    // With storage back, the same form signs the person in: the authorization resumes in that request and goes on
    // to its consent page (a first visit); the interaction ends and the session is stored with the sign-in's facts.
    const posted = await browser.request(form.action, { form: { ...form.fields, email, password: STRONG_PASSWORD } });
    expect(posted.status).toBe(303);
    const consent = /\/t\/[^/]+\/interaction\/([^/?]+)$/.exec(posted.location ?? '')?.[1];
    expect(consent).toBeDefined();
    expect(consent).not.toBe(uid);
    expect(await stored()).toEqual({ interaction: null, codes: before.codes, sessions: before.sessions + 1 });
    expect(await attempts(email)).toEqual(['LoginSucceeded']);
  });

  it('shows the sign-in form only to the browser that started the interaction', async () => {
    const { page } = await signInPage();
    const uid = /\/interaction\/([^/?]+)/.exec(page.url)![1]!;
    const refusals = [
      await new FormBrowser().request(page.url),
      await (await signInPage()).browser.request(page.url),
      ...(await Promise.all(
        [`_interaction=${uid}`, `_interaction=${uid}; _interaction.sig=forged`].map(async (cookie) => {
          const response = await fetch(page.url, { headers: { cookie } });
          return { status: response.status, body: await response.text() };
        }),
      )),
    ];
    for (const refused of refusals) {
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.body)).toMatchObject({ type: expect.stringContaining('interaction-invalid') });
    }
  });
});
