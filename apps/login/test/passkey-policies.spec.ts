import * as oidc from 'openid-client';
import { eventually } from '#platform/testing';
import { SoftwarePasskey } from '../../../test/support/software-authenticator';
import { Passkeys, passkeyRegistrationBody } from '../src/mfa/passkeys';
import { ACR_MFA } from '../src/mfa/second-factor-step';
import { FormBrowser } from './browser-less';
import { startLogin, type LoginHarness } from './login-harness';
import { REDIRECT_URI } from './sign-in-flow';

/**
 * A passkey sign-in without a password, through login's HTTP routes with a software authenticator
 * (node:crypto, test/support): the tenant's rules apply to it as to a password sign-in. With
 * LOGIN_UNVERIFIED_EMAIL=refuse, a person whose address is not verified is refused (403, recorded
 * as LoginFailed), and signs in with the same passkey once it is.
 */
let login: LoginHarness;
let slug: string;
let tenantId: string;
let config: oidc.Configuration;

beforeAll(async () => {
  login = await startLogin({ LOGIN_UNVERIFIED_EMAIL: 'refuse' });
  ({ slug, id: tenantId } = await login.createTenant());
  const { clientId } = await login.registerClient(slug, { name: 'Passkey policy app', type: 'public', redirectUris: [REDIRECT_URI] });
  config = await oidc.discovery(new URL(login.issuer(slug)), clientId, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
});
afterAll(() => login?.close());

/**
 * A passkey registered on the person's factors as the account page registers one (registration
 * options, then the attestation verified against their challenge). Set up through the service: an
 * unverified person cannot sign in to reach the page under this tenant's policy, which is the point.
 */
async function passkeyOf(userId: string, email: string): Promise<SoftwarePasskey> {
  const passkeys = login.app.get(Passkeys);
  const binding = `account:test-${userId}`;
  const options = await passkeys.registrationOptions({ tenantId, name: 'Passkey policy' }, { userId, email }, binding);
  const passkey = new SoftwarePasskey(new URL(login.url).origin);
  const body = passkeyRegistrationBody.parse({ csrf: 'n/a', name: 'Laptop', response: passkey.register(options) });
  expect(await passkeys.register(tenantId, userId, binding, body)).toEqual({ ok: true });
  return passkey;
}

/** The sign-in page's passkey button: options for this interaction, then the authenticator's assertion; `claims` exchanges the code. */
async function signInWithPasskey(passkey: SoftwarePasskey) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const browser = new FormBrowser();
  const form = FormBrowser.form(await browser.follow(url.href, REDIRECT_URI));
  const verify = form.action.replace(/\/login$/, '/passkey');
  const post = async (to: string, body: unknown) => {
    const answer = await browser.request(to, { raw: { contentType: 'application/json', body: JSON.stringify(body) } });
    return { status: answer.status, json: JSON.parse(answer.body) as Record<string, unknown> };
  };
  const options = await post(`${verify}/options`, { csrf: form.fields.csrf });
  expect(options.status).toBe(200);
  const answer = await post(verify, {
    csrf: form.fields.csrf,
    response: passkey.assert(options.json as { challenge: string; rpId: string }),
  });
  const claims = async () => {
    let step = await browser.follow(String(answer.json.location), REDIRECT_URI);
    if (!step.location) {
      const consent = FormBrowser.form(step);
      step = await browser.follow(
        (await browser.request(consent.action, { form: { ...consent.fields, decision: 'allow' } })).location!,
        REDIRECT_URI,
      );
    }
    const tokens = await oidc.authorizationCodeGrant(config, new URL(step.location!), { pkceCodeVerifier: verifier, expectedState: state });
    return tokens.claims()!;
  };
  return { ...answer, claims };
}

async function signInEvents(type: string, reason?: string): Promise<number> {
  const { rows } = await login.runtime.infrastructure.pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE 'login.%' AND type = $1 AND ($2::text IS NULL OR data->>'reason' = $2)",
    [type, reason ?? null],
  );
  return rows[0]!.n;
}

describe('a passkey sign-in without a password, under LOGIN_UNVERIFIED_EMAIL=refuse', () => {
  test('an unverified address is refused as a password sign-in is; verified, the same passkey signs in (amr hwk, acr mfa)', async () => {
    const { id: userId } = await login.signUp(slug, 'ada@example.com');
    const passkey = await passkeyOf(userId, 'ada@example.com');
    const started = await signInEvents('SessionStarted');

    const refused = await signInWithPasskey(passkey);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ type: expect.stringMatching(/email-unverified$/) });
    expect(await signInEvents('LoginFailed', 'email_unverified')).toBe(1);
    expect(await signInEvents('SessionStarted')).toBe(started);

    const token = await login.register.mailedToken('ada@example.com', /confirm your e-mail/);
    await login.register.http().post(`/t/${slug}/email-verifications`).send({ token }).expect(200);
    await eventually(
      async () =>
        (await login.runtime.infrastructure.pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1 AND email_verified', [userId]))
          .rows.length > 0,
    );
    const accepted = await signInWithPasskey(passkey);
    expect(accepted.status).toBe(200);
    expect(await accepted.claims()).toMatchObject({ sub: userId, amr: ['hwk', 'user', 'mfa'], acr: ACR_MFA });
    expect(await signInEvents('SessionStarted')).toBe(started + 1);
  });
});
