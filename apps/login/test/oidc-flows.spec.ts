import * as oidc from 'openid-client';
import { LoginJwksVerifier, TESSERA_API_AUDIENCE } from '#access';
import { sessionStreamFor } from '../src/sign-in/sign-in.events';
import { STRONG_PASSWORD } from '../../../test/support/register-harness';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI, signInThroughPages } from './sign-in-flow';

const insecure = { execute: [oidc.allowInsecureRequests] };

let login: LoginHarness;
let slug: string;
let tenantId: string;
let publicClient: { clientId: string };
let confidential: { clientId: string; clientSecret: string };

beforeAll(async () => {
  login = await startLogin();
  ({ slug, id: tenantId } = await login.createTenant());
  await login.signUp(slug, 'ada@example.com', { profile: { givenName: 'Ada' } });
  publicClient = await login.registerClient(slug, {
    name: 'Demo SPA',
    type: 'public',
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: ['http://localhost:9/bye'],
  });
  confidential = (await login.registerClient(slug, {
    name: 'Backend',
    type: 'confidential',
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
  })) as { clientId: string; clientSecret: string };
});

afterAll(() => login?.close());

/** The first event of any stream under the prefix, read the way other services will consume it. */
async function firstEventUnder(prefix: string) {
  const subscription = login.runtime.infrastructure.eventStore.subscribeToAll({ from: 'start', filter: { streamNamePrefixes: [prefix] } });
  try {
    for await (const event of subscription) return event;
    throw new Error('subscription ended');
  } finally {
    await subscription.close();
  }
}

const publicConfig = () => oidc.discovery(new URL(login.issuer(slug)), publicClient.clientId, undefined, oidc.None(), insecure);
const confidentialConfig = (secret = confidential.clientSecret) =>
  oidc.discovery(new URL(login.issuer(slug)), confidential.clientId, secret, oidc.ClientSecretBasic(secret), insecure);

describe('login as an OpenID provider, driven by openid-client', () => {
  it('publishes discovery per tenant with PKCE S256, PAR, DPoP, device flow and ES256 keys', async () => {
    const config = await publicConfig();
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(login.issuer(slug));
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${login.issuer(slug)}/request`);
    expect(metadata.device_authorization_endpoint).toBe(`${login.issuer(slug)}/device/auth`);
    expect(metadata.dpop_signing_alg_values_supported?.length).toBeGreaterThan(0);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256']);
    const jwks = (await (await fetch(metadata.jwks_uri!)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  it('signs a person in with code + PKCE through the hosted pages, then userinfo, refresh rotation and reuse detection', async () => {
    const config = await publicConfig();
    const { callback, verifier, state } = await signInThroughPages(slug, config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(login.issuer(slug));
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ email: 'ada@example.com', email_verified: false, given_name: 'Ada' });

    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(rotated.refresh_token).toEqual(expect.any(String));
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    // Reusing the first refresh token is theft: the whole grant goes, the rotated token with it.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(await confidentialConfig(), rotated.access_token)).active).toBe(false);
    expect((await firstEventUnder(`login.grant-${tenantId}.`)).type).toBe('TokensRevoked');
  });

  it('refuses a wrong PKCE verifier and a replayed code, and the replay revokes what the first use issued', async () => {
    const config = await publicConfig();
    const first = await signInThroughPages(slug, config);
    await expect(
      oidc.authorizationCodeGrant(config, first.callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: first.state }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });

    const second = await signInThroughPages(slug, config);
    const tokens = await oidc.authorizationCodeGrant(config, second.callback, {
      pkceCodeVerifier: second.verifier,
      expectedState: second.state,
    });
    await expect(
      oidc.authorizationCodeGrant(config, second.callback, { pkceCodeVerifier: second.verifier, expectedState: second.state }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('hands a code out only once it is stored: a failed write of the authorization response is an error, not a code', async () => {
    const pool = login.runtime.infrastructure.pool;
    const storedCodes = async () =>
      Number(
        (await pool.query("SELECT count(*) FROM login_oidc_models WHERE tenant_id = $1 AND model = 'AuthorizationCode'", [tenantId]))
          .rows[0].count,
      );
    const codesBefore = await storedCodes();
    await pool.query(`CREATE FUNCTION test_refuse_codes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.model = 'AuthorizationCode' AND NEW.tenant_id = '${tenantId}' THEN RAISE EXCEPTION 'storage refused the code'; END IF; RETURN NEW; END $$`);
    await pool.query(
      'CREATE TRIGGER test_refuse_codes BEFORE INSERT ON login_oidc_models FOR EACH ROW EXECUTE FUNCTION test_refuse_codes()',
    );
    const config = await publicConfig();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const browser = new FormBrowser();
    let refused: Awaited<ReturnType<FormBrowser['request']>>;
    try {
      const page = await browser.follow(url.href, REDIRECT_URI);
      const form = FormBrowser.form(page);
      const posted = await browser.request(form.action, { form: { ...form.fields, email: 'ada@example.com', password: STRONG_PASSWORD } });
      expect(posted.status).toBe(303);
      refused = await browser.follow(posted.location!, REDIRECT_URI);
      if (refused.body.includes('Allow access')) {
        const consent = FormBrowser.form(refused);
        const allowed = await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
        refused = await browser.follow(allowed.location!, REDIRECT_URI);
      }
    } finally {
      await pool.query('DROP TRIGGER test_refuse_codes ON login_oidc_models; DROP FUNCTION test_refuse_codes()');
    }
    expect(refused.status).toBe(500);
    expect(refused.location).toBeUndefined();
    // Nothing of that response was stored: not the code, not the session it would have started.
    expect(await storedCodes()).toBe(codesBefore);
    expect(
      login.errorLog.filter((line) => line.includes('an OpenID provider request failed') && line.includes('storage refused the code')),
    ).toHaveLength(1);
    // The interaction that response would have ended is still there: with storage back, resuming it again yields the code.
    const retried = await browser.request(refused.url);
    expect(retried.location).toMatch(/^http:\/\/localhost:9\/callback\?code=/);
    expect(await storedCodes()).toBe(codesBefore + 1);
  });

  it('refuses an authorization request without PKCE and one with an unregistered redirect_uri', async () => {
    const config = await publicConfig();
    const noPkce = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid' });
    const refused = await new FormBrowser().request(noPkce.href);
    expect(refused.location).toContain('error=invalid_request');
    const wrongRedirect = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://evil.example/cb',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await new FormBrowser().request(wrongRedirect.href);
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(page.body).toContain('redirect_uri');
  });

  it('issues client-credentials tokens (JWT for the API), introspects and revokes them, and refuses a wrong secret', async () => {
    const config = await confidentialConfig();
    const jwt = await oidc.clientCredentialsGrant(config, { resource: TESSERA_API_AUDIENCE });
    expect(jwt.access_token.split('.')).toHaveLength(3);
    const tokens = await oidc.clientCredentialsGrant(config);
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: confidential.clientId });
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);

    const wrong = await confidentialConfig('not-the-secret');
    await expect(oidc.clientCredentialsGrant(wrong)).rejects.toMatchObject({
      status: 401,
      cause: [expect.objectContaining({ parameters: expect.objectContaining({ error: 'invalid_client' }) })],
    });
  });

  it("issues JWT access tokens for Tessera's API that register's verifier accepts, for the person only", async () => {
    const config = await confidentialConfig();
    const { callback, verifier, state } = await signInThroughPages(slug, config, { resource: TESSERA_API_AUDIENCE });
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource: TESSERA_API_AUDIENCE },
    );
    const verifierOfRegister = new LoginJwksVerifier(login.url);
    const claims = await verifierOfRegister.verify(tokens.access_token);
    expect(claims).toEqual({ tenantId: expect.any(String), userId: tokens.claims()!.sub });

    const service = await oidc.clientCredentialsGrant(config, { resource: TESSERA_API_AUDIENCE });
    expect(await verifierOfRegister.verify(service.access_token)).toBeUndefined();
    expect(await new LoginJwksVerifier('http://elsewhere.example').verify(tokens.access_token)).toBeUndefined();
  });

  it('takes a pushed authorization request and binds the tokens to a DPoP key', async () => {
    const config = await publicConfig();
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const pushed = await oidc.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      },
      { DPoP },
    );
    expect(pushed.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const { callback } = await signInThroughPages(slug, config, {}, 'ada@example.com', pushed);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP });
    expect(tokens.token_type).toBe('dpop');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP });
    expect(info.email).toBe('ada@example.com');
    // Without the key's proof the bound token is worthless.
    await expect(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
  });

  it('remembers consent across sessions unless the client asks again', async () => {
    const config = await publicConfig();
    const first = await signInThroughPages(slug, config, { scope: 'openid email', prompt: 'login' });
    const second = await signInThroughPages(slug, config, { scope: 'openid email', prompt: 'login' });
    expect(second.askedConsent).toBe(false);
    const more = await signInThroughPages(slug, config, { scope: 'openid email', prompt: 'login consent' });
    expect(more.askedConsent).toBe(true);
    expect(first.callback.searchParams.get('code')).not.toBe(second.callback.searchParams.get('code'));
  });

  it('authorizes a device with the user code through the hosted pages', async () => {
    const tv = await login.registerClient(slug, {
      name: 'TV',
      type: 'public',
      grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
    });
    const config = await oidc.discovery(new URL(login.issuer(slug)), tv.clientId, undefined, oidc.None(), insecure);
    const device = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
    const browser = new FormBrowser();
    // The complete URI answers a self-submitting form (with a button when scripts are off); submit it.
    const landing = await browser.request(device.verification_uri_complete!);
    const landingForm = FormBrowser.form(landing);
    const confirm = await browser.request(landingForm.action, { form: landingForm.fields });
    expect(confirm.body).toContain(`Tenant ${slug}`);
    expect(confirm.body).toContain(device.user_code);
    const confirmForm = FormBrowser.form(confirm);
    let step = await browser.request(confirmForm.action, { form: confirmForm.fields });
    step = await browser.follow(step.location!, 'never');
    const signIn = FormBrowser.form(step);
    step = await browser.request(signIn.action, { form: { ...signIn.fields, email: 'ada@example.com', password: STRONG_PASSWORD } });
    step = await browser.follow(step.location!, 'never');
    if (step.body.includes('Allow access')) {
      const consent = FormBrowser.form(step);
      step = await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } });
      step = await browser.follow(step.location!, 'never');
    }
    expect(step.body).toContain('Device connected');
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    expect(tokens.claims()!.iss).toBe(login.issuer(slug));
  });

  it("ends a person's sessions and tokens when register revokes them (password reset)", async () => {
    await login.signUp(slug, 'bob@example.com');
    const config = await publicConfig();
    const { callback, verifier, state, browser } = await signInThroughPages(slug, config, {}, 'bob@example.com');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    await login.register.http().post(`/t/${slug}/password-resets`).send({ email: 'bob@example.com' }).expect(202);
    const token = await login.register.mailedToken('bob@example.com', /reset your password/);
    await login.register
      .http()
      .post(`/t/${slug}/password-resets/confirm`)
      .send({ token, password: 'a brand new passphrase here' })
      .expect(200);
    let refreshed: unknown;
    let refreshToken = tokens.refresh_token!;
    // The revocation travels by event: keep rotating until it has arrived, never past 5 seconds.
    for (let i = 0; i < 100; i++) {
      refreshed = await oidc.refreshTokenGrant(config, refreshToken).catch((error: unknown) => error);
      if (refreshed instanceof Error) break;
      refreshToken = (refreshed as { refresh_token: string }).refresh_token;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(refreshed).toMatchObject({ error: 'invalid_grant' });
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    expect((await browser.follow(again.href, REDIRECT_URI)).body).toContain('name="password"');
  });

  it('signs the person out through RP-initiated logout', async () => {
    const config = await publicConfig();
    const { callback, verifier, state, browser } = await signInThroughPages(slug, config);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const endSession = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'http://localhost:9/bye',
    });
    const confirm = await browser.request(endSession.href);
    expect(confirm.body).toContain('Sign out');
    const form = FormBrowser.form(confirm);
    const done = await browser.request(form.action, { form: { ...form.fields, logout: 'yes' } });
    expect(done.location).toBe('http://localhost:9/bye');
    // The session is gone: a new authorization asks for the password again.
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const page = await browser.follow(again.href, REDIRECT_URI);
    expect(page.body).toContain('name="password"');
    // SessionEnded is recorded beside the logout's answer, not before it: wait for it, within a deadline.
    const sessionEvents = async () =>
      (await login.runtime.infrastructure.eventStore.readStream(sessionStreamFor(tenantId, tokens.claims()!.sub))).map((e) => e.type);
    for (const deadline = Date.now() + 5_000; !(await sessionEvents()).includes('SessionEnded') && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await sessionEvents()).toEqual(expect.arrayContaining(['SessionStarted', 'SessionEnded']));
  });

  const MODELS = new Set(['Interaction', 'Session', 'AuthorizationCode', 'Grant', 'AccessToken', 'RefreshToken']);
  it('commits without waiting for the disk only what a crash may lose: the sign-in landing, never the sign-out or the grant', async () => {
    // The artefact writes by how their statement commits (named _restartable: synchronous_commit off for that transaction).
    const pool = login.runtime.infrastructure.pool;
    const query = pool.query;
    const stores: string[] = [];
    pool.query = function (this: typeof pool, ...args: unknown[]) {
      const [statement] = args as [{ name?: string; values?: unknown[] } | string];
      if (typeof statement === 'object' && statement.name?.startsWith('login_store_')) {
        const models = (statement.values ?? []).filter((value) => typeof value === 'string' && MODELS.has(value));
        stores.push(`${models.join('+')} ${statement.name}`);
      }
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof pool.query;
    let firstVisit: string[];
    let landing: string[];
    let signOut: string[];
    try {
      const config = await publicConfig();
      await signInThroughPages(slug, config);
      firstVisit = stores.splice(0);
      // A returning person (consent remembered) in a new browser: what each sign-in through to the code writes.
      const { callback, verifier, state, browser } = await signInThroughPages(slug, config, { prompt: 'login' });
      landing = stores.splice(0);
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
      const endSession = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'http://localhost:9/bye',
      });
      const form = FormBrowser.form(await browser.request(endSession.href));
      expect((await browser.request(form.action, { form: { ...form.fields, logout: 'yes' } })).location).toBe('http://localhost:9/bye');
      signOut = stores.splice(0);
    } finally {
      pool.query = query;
    }
    // The authorization request's interaction: restartable. (The sign-in page resumes the authorization in its own
    // request: its answer, the code, the session and the interaction's end go with the sign-in's events, in their
    // durable statement, never through a store of their own.)
    expect(landing).toEqual(['Interaction login_store_oidc_1_0_restartable']);
    // The grant a first visit gives waits for the disk, as does ending a session: a crash must not bring a signed-out session back.
    expect(firstVisit.filter((store) => store.startsWith('Grant '))).toEqual(['Grant login_store_oidc_1_0']);
    expect(signOut.length).toBeGreaterThan(0);
    expect(signOut.filter((store) => store.endsWith('_restartable'))).toEqual([]);
  });
});
