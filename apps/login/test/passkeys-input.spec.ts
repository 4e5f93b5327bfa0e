import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { SoftwarePasskey } from '../../../test/support/software-authenticator';
import { factorsStreamFor } from '../src/mfa/factors.events';
import { Passkeys, passkeyRegistrationBody } from '../src/mfa/passkeys';
import { FormBrowser } from './browser-less';
import { startLogin, statementsSentBy, type LoginHarness } from './login-harness';
import { openSignInPage, REDIRECT_URI, signInThroughPages } from './sign-in-flow';

/**
 * The passkey endpoints against what a script-less client or an attacker posts: every malformed
 * attestation or assertion is a 400 problem naming the field, a request without the page's CSRF
 * token a 403, an answer to no outstanding challenge a refusal; none is a 5xx, and nothing is stored.
 */
let login: LoginHarness;
let slug: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin();
  slug = (await login.createTenant()).slug;
  const { clientId } = await login.registerClient(slug, { name: 'Passkey input', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => login?.close());

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const CREDENTIAL_ID = b64('a credential id of 32 bytes.....');
const assertion = (overrides: Record<string, unknown> = {}) => ({
  id: CREDENTIAL_ID,
  rawId: CREDENTIAL_ID,
  type: 'public-key',
  clientExtensionResults: {},
  response: {
    clientDataJSON: b64('{}'),
    authenticatorData: b64('data'),
    signature: b64('sig'),
    userHandle: b64(randomUUID()),
    ...overrides,
  },
});
const attestation = (overrides: Record<string, unknown> = {}) => ({
  id: CREDENTIAL_ID,
  rawId: CREDENTIAL_ID,
  type: 'public-key',
  clientExtensionResults: {},
  response: {
    clientDataJSON: b64('{"type":"webauthn.create"}'),
    attestationObject: b64('not cbor'),
    transports: ['internal'],
    ...overrides,
  },
});

async function postJson(browser: FormBrowser, url: string, body: unknown) {
  const answer = await browser.request(url, { raw: { contentType: 'application/json', body: JSON.stringify(body) } });
  return { status: answer.status, problem: JSON.parse(answer.body) as { type: string; detail?: string; errors?: { pointer: string }[] } };
}

const pointers = (problem: { errors?: { pointer: string }[] }) => (problem.errors ?? []).map((error) => error.pointer);

async function factorEvents(): Promise<number> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE 'login.factors-%'",
  );
  return rows[0]!.n;
}

describe('a passkey sign-in, without a browser', () => {
  test('malformed assertions are 400s naming the field; no CSRF token is a 403; nothing is stored', async () => {
    const { browser, form } = await openSignInPage(config);
    const verify = form.action.replace(/\/login$/, '/passkey');
    const before = await factorEvents();
    const { csrf } = form.fields;
    const cases: [unknown, string][] = [
      [{ csrf, response: { ...assertion(), id: 'short' } }, '/response/id'],
      [{ csrf, response: { ...assertion(), id: 'A'.repeat(600) } }, '/response/id'],
      [{ csrf, response: { ...assertion(), rawId: 'not base64url!!!!!!!!' } }, '/response/rawId'],
      [{ csrf, response: assertion({ signature: 'sig\u0000nature' }) }, '/response/response/signature'],
      [{ csrf, response: assertion({ clientDataJSON: 'x'.repeat(5000) }) }, '/response/response/clientDataJSON'],
      [{ csrf, response: assertion({ authenticatorData: 42 }) }, '/response/response/authenticatorData'],
      [{ csrf, response: { ...assertion(), type: 'password' } }, '/response/type'],
      [{ csrf, response: assertion(), extra: true }, '/extra'],
      [{ csrf }, '/response'],
    ];
    for (const [body, pointer] of cases) {
      const { status, problem } = await postJson(browser, verify, body);
      expect({ pointer, status, type: problem.type }).toEqual({ pointer, status: 400, type: expect.stringMatching(/validation-failed$/) });
      expect(pointers(problem)).toContain(pointer);
    }
    expect((await postJson(browser, verify, { response: assertion() })).status).toBe(403);
    expect((await postJson(browser, `${verify}/options`, {})).status).toBe(403);
    expect(await factorEvents()).toBe(before);
  });

  test('an assertion must answer a challenge login issued for this interaction: none, a tampered one or another’s is refused', async () => {
    const { browser, form } = await openSignInPage(config);
    const verify = form.action.replace(/\/login$/, '/passkey');
    const { csrf } = form.fields;
    const answering = (challenge: unknown) =>
      assertion({ clientDataJSON: b64(JSON.stringify({ type: 'webauthn.get', challenge, origin: new URL(login.url).origin })) });
    const before = await factorEvents();
    const none = await postJson(browser, verify, { csrf, response: assertion() });
    expect(none.status).toBe(401);
    expect(none.problem.detail).toContain('no passkey request is outstanding');
    const options = await postJson(browser, `${verify}/options`, { csrf });
    expect(options.status).toBe(200);
    const issued = options.problem as unknown as { challenge: string; rpId: string; allowCredentials: unknown[]; userVerification: string };
    expect(issued.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued).toMatchObject({ rpId: '127.0.0.1', allowCredentials: [], userVerification: 'required' });
    // Answering it gets as far as the passkey, which is nobody's here.
    const unknown = await postJson(browser, verify, { csrf, response: answering(issued.challenge) });
    expect([unknown.status, unknown.problem.detail]).toEqual([401, expect.stringContaining('not registered')]);
    // One character changed anywhere, or a challenge of another interaction: not one login issued here.
    const flipped = (at: number) =>
      issued.challenge.slice(0, at) + (issued.challenge[at] === 'A' ? 'B' : 'A') + issued.challenge.slice(at + 1);
    const another = await openSignInPage(config);
    const anothers = (
      await postJson(another.browser, `${another.form.action.replace(/\/login$/, '/passkey')}/options`, {
        csrf: another.form.fields.csrf,
      })
    ).problem as unknown as { challenge: string };
    for (const challenge of [flipped(0), flipped(14), flipped(20), flipped(42), anothers.challenge, issued.challenge.slice(1), 42]) {
      const refused = await postJson(browser, verify, { csrf, response: answering(challenge) });
      expect([challenge, refused.status, refused.problem.detail]).toEqual([challenge, 401, expect.stringContaining('no passkey request')]);
    }
    expect(await factorEvents()).toBe(before);
  });

  test('a challenge signs in once: the same assertion posted twice at once signs in once, and again later signs in nobody', async () => {
    // A passkey that keeps no signature count (as synced ones): nothing but the challenge tells its two answers apart.
    const { userId, passkey } = await personWithPasskey('twice@example.com', false);
    await passkeySignIn(passkey);
    const uses = async () => {
      const { rows } = await login.runtime.infrastructure.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE $1 AND type = 'PasskeyUsed'",
        [`login.factors-%.${userId}`],
      );
      return rows[0]!.n;
    };
    for (let round = 0; round < 5; round += 1) {
      const { browser, page } = await openSignInPage(config, 'openid email');
      const { verify, csrf, request } = passkeyPathsOf(page.body);
      const body = JSON.stringify({ csrf, response: passkey.assert(request!) });
      const before = await uses();
      const answers = await Promise.all([0, 1].map(() => browser.request(verify, { raw: { contentType: 'application/json', body } })));
      expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      expect(answers.find((answer) => answer.status !== 200)!.status).toBeGreaterThanOrEqual(400);
      expect(await uses()).toBe(before + 1);
      const replayed = await browser.request(verify, { raw: { contentType: 'application/json', body } });
      expect(replayed.status).toBeGreaterThanOrEqual(400);
      expect(await uses()).toBe(before + 1);
    }
  });

  test('the sign-in page carries a challenge for its interaction; another is issued for this browser’s cookie, storing nothing', async () => {
    const { browser, page } = await openSignInPage(config);
    const paths = passkeyPathsOf(page.body);
    expect(paths.request).toMatchObject({ rpId: '127.0.0.1', allowCredentials: [], userVerification: 'required' });
    expect(paths.request!.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(paths.options).toMatch(/\/passkey\/options\?step=first$/);
    const { result: issued, statements } = await statementsSentBy(login.runtime.infrastructure.pool, () =>
      postJson(browser, paths.options, { csrf: paths.csrf }),
    );
    expect(issued.status).toBe(200);
    expect(issued.problem).toMatchObject({ allowCredentials: [], userVerification: 'required' });
    expect((issued.problem as unknown as { challenge: string }).challenge).not.toBe(paths.request!.challenge);
    expect([...statements.keys()].filter((name) => name.startsWith('login_'))).toEqual([]);
    // The interaction cookie is what binds the challenge to this browser; the page's token is still required.
    expect((await postJson(new FormBrowser(), paths.options, { csrf: paths.csrf })).status).toBe(400);
    expect((await postJson(browser, paths.options, {})).status).toBe(403);
  });

  test('an assertion posted to another browser’s interaction, or answering its challenge, is refused; each signs in on its own', async () => {
    const { passkey } = await personWithPasskey('kay@example.com');
    const victim = await openSignInPage(config, 'openid email');
    const victimPaths = passkeyPathsOf(victim.page.body);
    const victimOptions = await postJson(victim.browser, victimPaths.options, { csrf: victimPaths.csrf });
    const attacker = await openSignInPage(config, 'openid email');
    const attackerPaths = passkeyPathsOf(attacker.page.body);
    const attackerOptions = await postJson(attacker.browser, attackerPaths.options, { csrf: attackerPaths.csrf });
    // The victim's path and token, the attacker's cookie: the challenge taken is the one of the cookie's interaction.
    const crossed = await postJson(attacker.browser, victimPaths.verify, {
      csrf: victimPaths.csrf,
      response: passkey.assert(attackerOptions.problem as unknown as { challenge: string; rpId: string }),
    });
    expect([crossed.status, crossed.problem.detail]).toEqual([400, expect.stringContaining('another interaction')]);
    // The attacker's own interaction, answering the victim's challenge: sealed to the victim's interaction, it is no challenge here.
    const stolen = await postJson(attacker.browser, attackerPaths.verify, {
      csrf: attackerPaths.csrf,
      response: passkey.assert(victimOptions.problem as unknown as { challenge: string; rpId: string }),
    });
    expect([stolen.status, stolen.problem.detail]).toEqual([401, expect.stringContaining('no passkey request is outstanding')]);
    const answerOwn = (side: typeof victim, paths: typeof victimPaths, options: typeof victimOptions) =>
      postJson(side.browser, paths.verify, {
        csrf: paths.csrf,
        response: passkey.assert(options.problem as unknown as { challenge: string; rpId: string }),
      });
    expect((await answerOwn(attacker, attackerPaths, attackerOptions)).status).toBe(200);
    // The victim's challenge is still theirs to answer.
    const answered = await answerOwn(victim, victimPaths, victimOptions);
    expect(answered.status).toBe(200);
  });

  test('a second step takes a passkey answering the sign-in page’s challenge (a reload), for the person expected only', async () => {
    const { passkey } = await personWithPasskey('reload@example.com');
    const other = await personWithPasskey('other-reload@example.com');
    for (const [answering, expected] of [
      [other.passkey, 401],
      [passkey, 200],
    ] as const) {
      const { browser, form, page } = await openSignInPage(config);
      const asked = await browser.request(form.action, {
        form: { ...form.fields, email: 'reload@example.com', password: STRONG_PASSWORD },
      });
      expect(asked.body).toContain('id="passkey"');
      const signInPage = passkeyPathsOf(page.body);
      const options = await postJson(browser, signInPage.options, { csrf: signInPage.csrf });
      const response = answering.assert(options.problem as unknown as { challenge: string; rpId: string });
      const answer = await browser.request(signInPage.verify, {
        raw: { contentType: 'application/json', body: JSON.stringify({ csrf: signInPage.csrf, response }) },
      });
      expect(answer.status).toBe(expected);
    }
  });

  test('a passwordless sign-in reads once: the interaction, the challenge, the person and their grant; the resume takes them', async () => {
    const { userId, passkey } = await personWithPasskey('grace@example.com');
    // The first sign-in allows the client (its consent page asks for the person again); a returning person's is measured.
    await passkeySignIn(passkey);
    const returning = await passkeySignIn(passkey);
    // The assertion's answer is the client's redirect: the authorization resumed in that request, its interaction
    // read from what the request had settled, not from storage again. The one read of the interaction took the
    // page's challenge and brought the credential and latest grant of the person the passkey's user handle names,
    // which the sign-in and the resume took: no read of the challenge, the person or the grant of their own.
    expect(returning.answeredWith).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(returning.statements.get('login_oidc_find_interaction_with_latest_grant')).toBe(1);
    expect(returning.statements.get('login_credential_by_id') ?? 0).toBe(0);
    expect(returning.statements.get('login_passkey_challenge_take') ?? 0).toBe(0);
    expect(returning.statements.get('login_oidc_find_by_id_with_id') ?? 0).toBe(0);
    expect(returning.statements.get('login_oidc_latest_grant') ?? 0).toBe(0);
    // The code is the person's, and says how they signed in.
    const tokens = await oidc.authorizationCodeGrant(config, returning.callback!, { pkceCodeVerifier: returning.verifier });
    expect(tokens.claims()).toMatchObject({ sub: userId, amr: ['hwk', 'user', 'mfa'] });
  });

  test('a passkey of a person login no longer knows signs nobody in, though the interaction read found no credential for it', async () => {
    const { tenantId, userId, passkey } = await personWithPasskey('gone@example.com');
    // The person's erasure as it reaches login's read model: their credential row goes.
    await login.runtime.infrastructure.pool.query('DELETE FROM login_credentials WHERE tenant_id = $1 AND user_id = $2', [
      tenantId,
      userId,
    ]);
    const gone = await passkeySignIn(passkey);
    expect([gone.status, gone.detail]).toEqual([401, expect.stringContaining('not registered to a person who can sign in here')]);
    expect(gone.statements.get('login_credential_by_id') ?? 0).toBe(0);
    expect(gone.statements.get('tessera_es_append_beside_oidc_2_1_expecting') ?? 0).toBe(0);
  });

  test('a replica verifies with the passkeys it remembers, without reading them; one removed or added elsewhere is seen all the same', async () => {
    const { tenantId, userId, passkey } = await personWithPasskey('lin@example.com');
    await passkeySignIn(passkey);
    const returning = await passkeySignIn(passkey);
    expect(returning.status).toBe(200);
    expect(returning.statements.get('tessera_es_read_stream') ?? 0).toBe(0);
    // PasskeyUsed goes in the statement of the sign-in's events and of what the authorization leaves (the code and
    // the session stored, the interaction ended), guarded by the revision the remembered state had; nothing is
    // appended or stored on its own.
    expect(returning.statements.get('tessera_es_append_beside_oidc_2_1_expecting')).toBe(1);
    expect([...returning.statements.keys()].filter((name) => name.startsWith('login_store_'))).toEqual([]);
    expect([...returning.statements.keys()].filter((name) => name.startsWith('tessera_es_append'))).toHaveLength(1);
    const replica = await login.startReplica();
    try {
      // Removed through another replica: this one still remembers the passkey, and its use must not land.
      expect(await replica.app.get(Passkeys).remove(tenantId, userId, passkey.credentialId)).toBe(true);
      const removed = await passkeySignIn(passkey);
      expect({ status: removed.status, detail: removed.detail }).toEqual({
        status: 401,
        detail: expect.stringContaining('not registered'),
      });
      // Registered through the other replica: missing from what this one remembers, so read.
      const another = await registerPasskey(replica.app.get(Passkeys), tenantId, userId, 'lin@example.com');
      const added = await passkeySignIn(another);
      expect(added.status).toBe(200);
      const uses = await login.runtime.infrastructure.pool.query<{ type: string }>(
        'SELECT type FROM es_events WHERE stream_name = $1 ORDER BY seq',
        [factorsStreamFor(tenantId, userId)],
      );
      expect(uses.rows.map((row) => row.type)).toEqual([
        'PasskeyRegistered',
        'PasskeyUsed',
        'PasskeyUsed',
        'PasskeyRemoved',
        'PasskeyRegistered',
        'PasskeyUsed',
      ]);
      // Each use committed with the sign-in it completed; the refused one left nothing.
      const withSignIn = await login.runtime.infrastructure.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM es_events used
         JOIN es_events signed ON signed.transaction_id = used.transaction_id AND signed.type = 'LoginSucceeded'
         WHERE used.stream_name = $1 AND used.type = 'PasskeyUsed'`,
        [factorsStreamFor(tenantId, userId)],
      );
      expect(withSignIn.rows[0]!.n).toBe(3);
    } finally {
      await replica.close();
    }
  });
});

async function personWithPasskey(email: string, counts = true) {
  const { id: userId } = await login.signUp(slug, email);
  const tenantId = (
    await login.runtime.infrastructure.pool.query<{ tenant_id: string }>('SELECT tenant_id FROM login_tenants WHERE slug = $1', [slug])
  ).rows[0]!.tenant_id;
  const passkey = await registerPasskey(login.app.get(Passkeys), tenantId, userId, email, counts);
  return { tenantId, userId, passkey };
}

/** A passkey registered as the account page registers one, through `passkeys` (one replica's). */
async function registerPasskey(
  passkeys: Passkeys,
  tenantId: string,
  userId: string,
  email: string,
  counts = true,
): Promise<SoftwarePasskey> {
  const passkey = new SoftwarePasskey(new URL(login.url).origin, undefined, counts);
  const binding = `account:test-${randomUUID()}`;
  const registration = await passkeys.registrationOptions({ tenantId, name: 'Test' }, { userId, email }, binding);
  const body = passkeyRegistrationBody.parse({ csrf: 'unused', name: 'Test passkey', response: passkey.register(registration) });
  expect(await passkeys.register(tenantId, userId, binding, body)).toEqual({ ok: true });
  return passkey;
}

/**
 * Where the page's passkey script asks for options and posts its answer, as the page says (its
 * #passkey block), and the options it carries for the first attempt (the sign-in page's).
 */
function passkeyPathsOf(html: string): { options: string; verify: string; csrf: string; request?: { challenge: string; rpId: string } } {
  const block = /<div id="passkey"[^>]*>/.exec(html)?.[0] ?? '';
  const attribute = (name: string) =>
    (new RegExp(`data-${name}="([^"]*)"`).exec(block)?.[1] ?? '').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  const request = attribute('request');
  return {
    options: new URL(attribute('options'), login.url).href,
    verify: new URL(attribute('verify'), login.url).href,
    csrf: attribute('csrf'),
    ...(request ? { request: JSON.parse(request) as { challenge: string; rpId: string } } : {}),
  };
}

/** Where a passkey sign-in ended: refused (status and the problem's detail), or at the client with a code. */
interface PasskeySignInEnd {
  readonly status: number;
  readonly detail?: string;
  readonly answeredWith?: string;
  readonly callback?: URL;
}

/**
 * A passwordless passkey sign-in at this harness's login, through to the code (allowing the client
 * when asked), with the named statements the assertion and the authorization sent.
 */
async function passkeySignIn(passkey: SoftwarePasskey) {
  const { browser, page, verifier } = await openSignInPage(config, 'openid email');
  // As the page's script: the options the page carries, no request first.
  const { verify, csrf, request } = passkeyPathsOf(page.body);
  const response = passkey.assert(request!);
  const { result, statements } = await statementsSentBy(login.runtime.infrastructure.pool, async (): Promise<PasskeySignInEnd> => {
    const verified = await browser.request(verify, { raw: { contentType: 'application/json', body: JSON.stringify({ csrf, response }) } });
    if (verified.status !== 200) return { status: verified.status, detail: (JSON.parse(verified.body) as { detail?: string }).detail };
    const answeredWith = (JSON.parse(verified.body) as { location: string }).location;
    let step = await browser.follow(answeredWith, REDIRECT_URI);
    if (!step.location?.startsWith(REDIRECT_URI)) {
      const consent = FormBrowser.form(step);
      step = await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
      step = await browser.follow(step.location!, REDIRECT_URI);
    }
    expect(step.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    return { status: verified.status, answeredWith, callback: new URL(step.location!) };
  });
  return { ...result, verifier, statements };
}

describe('a passkey registration, without a browser', () => {
  test('malformed attestations and names are 400s naming the field; one that does not verify stores nothing', async () => {
    await login.signUp(slug, 'ada@example.com');
    const { browser } = await signInThroughPages(slug, config);
    const security = `${login.url}/t/${slug}/account/security`;
    const page = await browser.request(security);
    expect(page.body).toContain('No passkey yet.');
    const { csrf } = FormBrowser.form({ body: page.body, url: security }).fields;
    const before = await factorEvents();
    const cases: [unknown, string][] = [
      [{ csrf, name: 'Key\u0007', response: attestation() }, '/name'],
      [{ csrf, name: 'K'.repeat(201), response: attestation() }, '/name'],
      [{ csrf, name: '   ', response: attestation() }, '/name'],
      [{ csrf, name: 'Key', response: attestation({ attestationObject: 'not base64url!' }) }, '/response/response/attestationObject'],
      [{ csrf, name: 'Key', response: attestation({ transports: ['internal\u0000'] }) }, '/response/response/transports/0'],
      [{ csrf, name: 'Key', response: { ...attestation(), id: '' } }, '/response/id'],
      [{ csrf, name: 'Key' }, '/response'],
    ];
    for (const [body, pointer] of cases) {
      const { status, problem } = await postJson(browser, `${security}/passkeys`, body);
      expect({ pointer, status }).toEqual({ pointer, status: 400 });
      expect(pointers(problem)).toContain(pointer);
    }
    const unasked = await postJson(browser, `${security}/passkeys`, { csrf, name: 'Key', response: attestation() });
    expect(unasked).toMatchObject({ status: 400, problem: { type: expect.stringMatching(/passkey-challenge-missing$/) } });
    expect((await postJson(browser, `${security}/passkeys/options`, { csrf })).status).toBe(200);
    const unverifiable = await postJson(browser, `${security}/passkeys`, { csrf, name: 'Key', response: attestation() });
    expect(unverifiable.status).toBe(400);
    expect(pointers(unverifiable.problem)).toEqual(['/response']);
    expect((await postJson(browser, `${security}/passkeys`, { name: 'Key', response: attestation() })).status).toBe(403);
    expect((await browser.request(`${security}/passkeys/remove`, { form: { csrf, credentialId: 'nobody\u0001' } })).status).toBe(400);
    expect((await browser.request(`${security}/passkeys/remove`, { form: { csrf, credentialId: CREDENTIAL_ID } })).status).toBe(404);
    expect(await factorEvents()).toBe(before);
    expect((await browser.request(security)).body).toContain('No passkey yet.');
  });
});
