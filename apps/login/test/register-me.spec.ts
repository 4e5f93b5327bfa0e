import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { TESSERA_API_AUDIENCE } from '#access';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { SigningKeys } from '../src/keys/signing-keys';
import { startLogin, type LoginHarness } from './login-harness';
import { signInThroughPages } from './sign-in-flow';

const insecure = { execute: [oidc.allowInsecureRequests] };

let login: LoginHarness;
let register: RegisterHarness;
let tenant: { id: string; slug: string };
let config: oidc.Configuration;

/** A person's access token for Tessera's API, through the hosted pages as a relying party gets it. */
async function personToken(): Promise<string> {
  const { callback, verifier, state } = await signInThroughPages(
    tenant.slug,
    config,
    { resource: TESSERA_API_AUDIENCE },
    'ada@example.com',
  );
  const tokens = await oidc.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier, expectedState: state },
    { resource: TESSERA_API_AUDIENCE },
  );
  return tokens.access_token;
}

/** The claims of a real token, changed and signed again with the tenant's current signing key (as only login could). */
async function resignedByLogin(token: string, change: (claims: JWTPayload) => JWTPayload): Promise<string> {
  const { infrastructure } = login.runtime;
  const [current] = await new SigningKeys(infrastructure.pool, infrastructure.personalData, 0).keysOf(tenant.id);
  return new SignJWT(change(decodeJwt(token)))
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: current!.kid })
    .sign(await importJWK(current!, 'ES256'));
}

const me = (slug: string, token: string) => register.http().get(`/t/${slug}/me`).set('authorization', `Bearer ${token}`);

beforeAll(async () => {
  login = await startLogin();
  // A second register on the same database and master key, configured the way `npm start` runs it:
  // nothing but LOGIN_PUBLIC_URL tells it to trust login's tokens.
  register = await startRegister({
    DATABASE_URL: login.register.config.DATABASE_URL,
    TESSERA_MASTER_KEY: login.register.config.TESSERA_MASTER_KEY.toString('base64'),
    LOGIN_PUBLIC_URL: login.url,
  });
  tenant = await login.createTenant();
  await login.signUp(tenant.slug, 'ada@example.com', { profile: { givenName: 'Ada' } });
  const client = await login.registerClient(tenant.slug, {
    name: 'Web',
    type: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    redirectUris: ['http://localhost:9/callback'],
  });
  config = await oidc.discovery(
    new URL(login.issuer(tenant.slug)),
    client.clientId,
    client.clientSecret,
    oidc.ClientSecretBasic(client.clientSecret!),
    insecure,
  );
});

afterAll(async () => {
  await register?.close();
  await login?.close();
});

describe("register's /t/{tenant}/me with login's access tokens (register configured with LOGIN_PUBLIC_URL)", () => {
  it("accepts a person's JWT for Tessera's API and refuses it at another tenant", async () => {
    const token = await personToken();
    const answer = await me(tenant.slug, token);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ email: 'ada@example.com' });

    const other = await login.createTenant();
    expect((await me(other.slug, token)).status).toBe(403);
  });

  it("refuses a client's token, an opaque token, and expired, forged or wrongly addressed ones", async () => {
    const token = await personToken();
    const service = await oidc.clientCredentialsGrant(config, { resource: TESSERA_API_AUDIENCE });
    expect((await me(tenant.slug, service.access_token)).status).toBe(401);
    const opaque = await oidc.clientCredentialsGrant(config);
    expect((await me(tenant.slug, opaque.access_token)).status).toBe(401);

    const now = Math.floor(Date.now() / 1000);
    const expired = await resignedByLogin(token, (claims) => ({ ...claims, iat: now - 3600, exp: now - 60 }));
    expect((await me(tenant.slug, expired)).status).toBe(401);
    const elsewhere = await resignedByLogin(token, (claims) => ({ ...claims, aud: 'urn:another:api' }));
    expect((await me(tenant.slug, elsewhere)).status).toBe(401);
    // The control: the same re-signing with nothing changed passes, so the refusals above are the claims'.
    expect((await me(tenant.slug, await resignedByLogin(token, (claims) => claims))).status).toBe(200);

    // Same claims and key id, someone else's key. (Unknown key ids and the refetch bound: libs/access.)
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(token))
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid! })
      .sign(privateKey);
    expect((await me(tenant.slug, forged)).status).toBe(401);
  });

  it("accepts tokens signed with the tenant's next key after a rotation", async () => {
    const before = await personToken();
    expect((await me(tenant.slug, before)).status).toBe(200);
    const rotated = await fetch(`${login.url}/admin/tenants/${tenant.slug}/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.adminToken}` },
    });
    expect(rotated.status).toBe(204);

    const after = await personToken();
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    expect((await me(tenant.slug, after)).status).toBe(200);
    // Within the overlap window the previous key still verifies.
    expect((await me(tenant.slug, before)).status).toBe(200);
  });
});
