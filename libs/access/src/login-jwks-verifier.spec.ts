import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { TESSERA_API_AUDIENCE } from './access-token';
import { LoginJwksVerifier } from './login-jwks-verifier';

interface TenantKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** Stands in for login's JWKS endpoints (`/t/{slug}/jwks`) and counts how often each is fetched. */
class JwksEndpoints {
  readonly keys = new Map<string, TenantKey[]>();
  readonly fetches = new Map<string, number>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const slug = /^\/t\/([^/]+)\/jwks$/.exec(req.url ?? '')?.[1] ?? '';
      this.fetches.set(slug, (this.fetches.get(slug) ?? 0) + 1);
      const keys = this.keys.get(slug);
      if (!keys) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** A new signing key for the tenant, published first in its JWKS (what login's rotation does). */
  async rotate(slug: string): Promise<TenantKey> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = `k${Math.random().toString(36).slice(2)}`;
    const key = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
    this.keys.set(slug, [key, ...(this.keys.get(slug) ?? [])]);
    return key;
  }

  fetchesOf(slug: string): number {
    return this.fetches.get(slug) ?? 0;
  }
}

const endpoints = new JwksEndpoints();
beforeAll(() => endpoints.start());
afterAll(() => endpoints.stop());

/** A token shaped like login's for a person, signed with `key` (overrides change claims or header). */
function tokenOf(
  issuerBase: string,
  slug: string,
  key: TenantKey,
  claims: Record<string, unknown> = {},
  header: Record<string, string> = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: `${issuerBase}/t/${slug}`,
    aud: TESSERA_API_AUDIENCE,
    sub: '0190e7a0-0000-7000-8000-000000000001',
    iat: now,
    exp: now + 300,
    tid: `tenant-${slug}`,
    tessera_subject: 'person',
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid, ...header })
    .sign(key.privateKey);
}

describe("LoginJwksVerifier: login's access tokens for other services", () => {
  it("fetches a tenant's key set once and verifies every token with it", async () => {
    const key = await endpoints.rotate('cached');
    const verifier = new LoginJwksVerifier(endpoints.url);
    for (let i = 0; i < 3; i++) {
      expect(await verifier.verify(await tokenOf(endpoints.url, 'cached', key))).toEqual({
        tenantId: 'tenant-cached',
        userId: expect.any(String),
      });
    }
    expect(endpoints.fetchesOf('cached')).toBe(1);
  });

  it("refetches on an unknown key id, so a tenant's rotated key verifies at once", async () => {
    const first = await endpoints.rotate('rotating');
    const verifier = new LoginJwksVerifier(endpoints.url);
    expect(await verifier.verify(await tokenOf(endpoints.url, 'rotating', first))).toEqual({
      tenantId: 'tenant-rotating',
      userId: expect.any(String),
    });
    const next = await endpoints.rotate('rotating');
    expect(await verifier.verify(await tokenOf(endpoints.url, 'rotating', next))).toEqual({
      tenantId: 'tenant-rotating',
      userId: expect.any(String),
    });
    expect(await verifier.verify(await tokenOf(endpoints.url, 'rotating', first))).toEqual({
      tenantId: 'tenant-rotating',
      userId: expect.any(String),
    });
    expect(endpoints.fetchesOf('rotating')).toBe(2);
  });

  it('made-up key ids cost one refetch per cooldown, not one each', async () => {
    const key = await endpoints.rotate('probed');
    const verifier = new LoginJwksVerifier(endpoints.url);
    expect(await verifier.verify(await tokenOf(endpoints.url, 'probed', key))).toEqual({
      tenantId: 'tenant-probed',
      userId: expect.any(String),
    });
    for (let i = 0; i < 5; i++) {
      expect(await verifier.verify(await tokenOf(endpoints.url, 'probed', key, {}, { kid: `made-up-${i}` }))).toBeUndefined();
    }
    expect(endpoints.fetchesOf('probed')).toBe(2);
    expect(await verifier.verify(await tokenOf(endpoints.url, 'probed', key))).toEqual({
      tenantId: 'tenant-probed',
      userId: expect.any(String),
    });
  });

  it("keeps tenants apart: a token signed with another tenant's key does not verify", async () => {
    const a = await endpoints.rotate('tenant-a');
    const b = await endpoints.rotate('tenant-b');
    const verifier = new LoginJwksVerifier(endpoints.url);
    expect(await verifier.verify(await tokenOf(endpoints.url, 'tenant-a', a))).toEqual({
      tenantId: 'tenant-tenant-a',
      userId: expect.any(String),
    });
    expect(await verifier.verify(await tokenOf(endpoints.url, 'tenant-a', b))).toBeUndefined();
    expect(await verifier.verify(await tokenOf(endpoints.url, 'tenant-b', b))).toEqual({
      tenantId: 'tenant-tenant-b',
      userId: expect.any(String),
    });
  });

  it('does not ask again within the cooldown after a key set could not be fetched', async () => {
    const stranger = await endpoints.rotate('unpublished');
    endpoints.keys.delete('unpublished');
    const verifier = new LoginJwksVerifier(endpoints.url);
    for (let i = 0; i < 3; i++) expect(await verifier.verify(await tokenOf(endpoints.url, 'unpublished', stranger))).toBeUndefined();
    expect(endpoints.fetchesOf('unpublished')).toBe(1);
  });

  it('checks the public issuer while fetching keys from the internal address (LOGIN_INTERNAL_URL)', async () => {
    const key = await endpoints.rotate('internal');
    const verifier = new LoginJwksVerifier('https://login.example.com', { jwksBaseUrl: endpoints.url });
    expect(await verifier.verify(await tokenOf('https://login.example.com', 'internal', key))).toEqual({
      tenantId: 'tenant-internal',
      userId: expect.any(String),
    });
    expect(await verifier.verify(await tokenOf(endpoints.url, 'internal', key))).toBeUndefined();
    expect(endpoints.fetchesOf('internal')).toBe(1);
  });

  it("refuses a client's token, another audience, another token type and an expired token", async () => {
    const key = await endpoints.rotate('strict');
    const verifier = new LoginJwksVerifier(endpoints.url);
    expect(await verifier.verify(await tokenOf(endpoints.url, 'strict', key))).toEqual({
      tenantId: 'tenant-strict',
      userId: expect.any(String),
    });
    expect(await verifier.verify(await tokenOf(endpoints.url, 'strict', key, { tessera_subject: 'client' }))).toBeUndefined();
    expect(await verifier.verify(await tokenOf(endpoints.url, 'strict', key, { aud: 'urn:another:api' }))).toBeUndefined();
    expect(await verifier.verify(await tokenOf(endpoints.url, 'strict', key, {}, { typ: 'JWT' }))).toBeUndefined();
    const past = Math.floor(Date.now() / 1000) - 60;
    expect(await verifier.verify(await tokenOf(endpoints.url, 'strict', key, { iat: past - 600, exp: past }))).toBeUndefined();
  });
});
