import { eventually } from '#platform/testing';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { deleteExpiredModels, postgresAdapterFor } from '../src/oidc/postgres-adapter';
import { openRequestArtefacts } from '../src/oidc/request-artefacts';
import { ProviderCache } from '../src/oidc/provider-cache';
import { startLogin, type LoginHarness } from './login-harness';

const TENANTS = 1000;
const CACHE = 50;
const insecure = { execute: [oidc.allowInsecureRequests] };

let login: LoginHarness;

beforeAll(async () => {
  login = await startLogin({ LOGIN_PROVIDER_CACHE_SIZE: String(CACHE) });
});

afterAll(() => login?.close());

/** TenantCreated as register appends it, without the HTTP round trip per tenant. */
async function createTenants(count: number): Promise<string[]> {
  const slugs = Array.from({ length: count }, (_, i) => `many-${i}-${randomUUID().slice(0, 6)}`);
  await login.register.appendTenants(slugs);
  const pool = login.runtime.infrastructure.pool;
  await eventually(
    async () => {
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM login_tenants WHERE slug LIKE 'many-%'");
      return rows[0]!.n >= count;
    },
    { timeoutMs: 50_000, intervalMs: 50, what: 'the tenants to reach login' },
  );
  return slugs;
}

describe('many tenants in one process', () => {
  it('serves 1,000 tenants with lazily built providers in a bounded cache and bounded memory', async () => {
    const slugs = await createTenants(TENANTS);
    const cache = login.app.get(ProviderCache);
    expect(cache.size).toBe(0);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const sample = [...slugs].sort(() => Math.random() - 0.5).slice(0, 120);
    for (const slug of sample) {
      const { clientId, clientSecret } = await login.registerClient(slug, {
        name: 'svc',
        type: 'confidential',
        grantTypes: ['client_credentials'],
      });
      const config = await oidc.discovery(
        new URL(login.issuer(slug)),
        clientId,
        clientSecret,
        oidc.ClientSecretBasic(clientSecret!),
        insecure,
      );
      expect(config.serverMetadata().issuer).toBe(login.issuer(slug));
      const token = await oidc.clientCredentialsGrant(config);
      expect(token.access_token).toEqual(expect.any(String));
      expect(cache.size).toBeLessThanOrEqual(CACHE);
    }
    expect(cache.size).toBe(CACHE);
    // 120 providers were built and 70 evicted; growth stays far below what 1,000 resident providers would take.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
  });

  it("refuses tenant A's client and tokens at tenant B", async () => {
    const a = await login.createTenant();
    const b = await login.createTenant();
    const clientA = await login.registerClient(a.slug, { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'] });
    const clientB = await login.registerClient(b.slug, { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'] });
    const atA = await oidc.discovery(
      new URL(login.issuer(a.slug)),
      clientA.clientId,
      clientA.clientSecret,
      oidc.ClientSecretBasic(clientA.clientSecret!),
      insecure,
    );
    const atB = await oidc.discovery(
      new URL(login.issuer(b.slug)),
      clientB.clientId,
      clientB.clientSecret,
      oidc.ClientSecretBasic(clientB.clientSecret!),
      insecure,
    );
    const tokenOfA = await oidc.clientCredentialsGrant(atA);
    expect((await oidc.tokenIntrospection(atA, tokenOfA.access_token)).active).toBe(true);
    expect((await oidc.tokenIntrospection(atB, tokenOfA.access_token)).active).toBe(false);

    const clientAAtB = await oidc.discovery(
      new URL(login.issuer(b.slug)),
      clientA.clientId,
      clientA.clientSecret,
      oidc.ClientSecretBasic(clientA.clientSecret!),
      insecure,
    );
    await expect(oidc.clientCredentialsGrant(clientAAtB)).rejects.toMatchObject({ status: 401 });
  });

  it('rotates a client secret and disables a client, through its events', async () => {
    const tenant = await login.createTenant();
    const client = await login.registerClient(tenant.slug, { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'] });
    const admin = { authorization: `Bearer ${login.adminToken}` };
    const configWith = (secret: string) =>
      oidc.discovery(new URL(login.issuer(tenant.slug)), client.clientId, secret, oidc.ClientSecretBasic(secret), insecure);
    const rotated = await fetch(`${login.url}/admin/tenants/${tenant.slug}/clients/${client.clientId}/secret`, {
      method: 'POST',
      headers: admin,
    });
    expect(rotated.status).toBe(201);
    const { clientSecret } = (await rotated.json()) as { clientSecret: string };
    await expect(oidc.clientCredentialsGrant(await configWith(client.clientSecret!))).rejects.toMatchObject({ status: 401 });
    expect((await oidc.clientCredentialsGrant(await configWith(clientSecret))).access_token).toEqual(expect.any(String));

    expect(
      (await fetch(`${login.url}/admin/tenants/${tenant.slug}/clients/${client.clientId}`, { method: 'DELETE', headers: admin })).status,
    ).toBe(204);
    await expect(oidc.clientCredentialsGrant(await configWith(clientSecret))).rejects.toMatchObject({ status: 401 });
    const unknown = await fetch(`${login.url}/admin/tenants/${tenant.slug}/clients/nope/secret`, { method: 'POST', headers: admin });
    expect(unknown.status).toBe(404);
  });

  it("keeps every replica's client cache true to the client's events: rotation and disabling reach a replica that cached the client", async () => {
    const tenant = await login.createTenant();
    const client = (await login.registerClient(tenant.slug, { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'] })) as {
      clientId: string;
      clientSecret: string;
    };
    const replica = await login.startReplica();
    try {
      // Straight to the replica's token endpoint: its issuer is the first replica's, as behind a load balancer.
      const tokenAtReplica = (secret: string) =>
        fetch(`${replica.url}/t/${tenant.slug}/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        }).then((response) => response.status);
      /** Asks until the replica answers `status` (it learns of changes asynchronously), at most 5 s. */
      const eventually = async (secret: string, status: number) => {
        let last = 0;
        for (let i = 0; i < 100 && last !== status; i++) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
          last = await tokenAtReplica(secret);
        }
        return last;
      };
      expect(await tokenAtReplica(client.clientSecret)).toBe(200);
      expect(await tokenAtReplica(client.clientSecret)).toBe(200);

      const admin = { authorization: `Bearer ${login.adminToken}` };
      const rotated = await fetch(`${login.url}/admin/tenants/${tenant.slug}/clients/${client.clientId}/secret`, {
        method: 'POST',
        headers: admin,
      });
      const { clientSecret } = (await rotated.json()) as { clientSecret: string };
      expect(await eventually(client.clientSecret, 401)).toBe(401);
      expect(await tokenAtReplica(clientSecret)).toBe(200);

      expect(
        (await fetch(`${login.url}/admin/tenants/${tenant.slug}/clients/${client.clientId}`, { method: 'DELETE', headers: admin })).status,
      ).toBe(204);
      expect(await eventually(clientSecret, 401)).toBe(401);
    } finally {
      await replica.close();
    }
  });

  it('refuses a bad client registration with a problem naming the field, and stores nothing', async () => {
    const tenant = await login.createTenant();
    const url = `${login.url}/admin/tenants/${tenant.slug}/clients`;
    const body = JSON.stringify({ name: 'bad', type: 'public', grantTypes: ['client_credentials'] });
    const bad = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.adminToken}`, 'content-type': 'application/json' },
      body,
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(((await bad.json()) as { errors: { pointer: string }[] }).errors.map((e) => e.pointer)).toContain('/grantTypes');
    const anonymous = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(anonymous.status).toBe(401);
    const { rows } = await login.runtime.infrastructure.pool.query('SELECT 1 FROM login_clients WHERE tenant_id = $1', [tenant.id]);
    expect(rows).toHaveLength(0);
  });

  it('cleans up expired OIDC artefacts and only those', async () => {
    const tenant = await login.createTenant();
    const Adapter = postgresAdapterFor(login.runtime.infrastructure.pool, tenant.id, async () => undefined);
    const sessions = new Adapter('Session');
    await sessions.upsert('gone', { uid: 'u1' }, -1);
    await sessions.upsert('kept', { uid: 'u2' }, 3600);
    expect(await sessions.find('gone')).toBeUndefined();
    expect(await deleteExpiredModels(login.runtime.infrastructure.pool)).toBeGreaterThanOrEqual(1);
    const { rows } = await login.runtime.infrastructure.pool.query('SELECT id FROM login_oidc_models WHERE tenant_id = $1', [tenant.id]);
    expect(rows.map((r: { id: string }) => r.id)).toEqual(['kept']);
    expect(await sessions.findByUid('u2')).toEqual({ uid: 'u2' });
  });

  it("keeps a provider request's session, code and interaction writes until the request commits them, and lets it read them back", async () => {
    const tenant = await login.createTenant();
    const pool = login.runtime.infrastructure.pool;
    let request: object | undefined;
    const Adapter = postgresAdapterFor(
      pool,
      tenant.id,
      async () => undefined,
      () => request,
    );
    const [sessions, codes, interactions, grants] = ['Session', 'AuthorizationCode', 'Interaction', 'Grant'].map(
      (model) => new Adapter(model),
    );
    await interactions!.upsert('i-1', { uid: 'i-1' }, 3600);
    const stored = async () =>
      (await pool.query('SELECT model, id FROM login_oidc_models WHERE tenant_id = $1 ORDER BY model, id', [tenant.id])).rows;

    request = {};
    const writes = openRequestArtefacts(request);
    await sessions!.upsert('s-1', { uid: 'su-1', accountId: 'a' }, 3600);
    await codes!.upsert('c-1', { grantId: 'g-1' }, 60);
    await codes!.upsert('c-2', { grantId: 'g-2' }, 60);
    await interactions!.destroy('i-1');
    await grants!.upsert('g-1', { accountId: 'a' }, 3600);
    // Grants are written at once; the rest waits for the request.
    expect(await stored()).toEqual([
      { model: 'Grant', id: 'g-1' },
      { model: 'Interaction', id: 'i-1' },
    ]);
    expect(await sessions!.findByUid('su-1')).toEqual({ uid: 'su-1', accountId: 'a' });
    expect(await interactions!.find('i-1')).toBeUndefined();
    expect(await interactions!.findByUid('i-1')).toBeUndefined();
    // Revoking a grant also takes what the request was about to store under it.
    await grants!.revokeByGrantId('g-1');
    expect(await codes!.find('c-1')).toBeUndefined();
    await writes.commit(pool, tenant.id);
    expect(await stored()).toEqual([
      { model: 'AuthorizationCode', id: 'c-2' },
      { model: 'Grant', id: 'g-1' },
      { model: 'Session', id: 's-1' },
    ]);

    // Written after the commit, still in the request's context (work it did not await): stored at once.
    await sessions!.upsert('s-2', { uid: 'su-2' }, 3600);
    expect(await stored()).toContainEqual({ model: 'Session', id: 's-2' });

    request = undefined;
    expect(await sessions!.findByUid('su-1')).toEqual({ uid: 'su-1', accountId: 'a' });
    expect(await codes!.find('c-2')).toEqual({ grantId: 'g-2' });
  });

  it('finds the latest grant a person gave the client along with the interaction they signed in to, for the request that resumes it', async () => {
    const tenant = await login.createTenant();
    const pool = login.runtime.infrastructure.pool;
    const request = {};
    const Adapter = postgresAdapterFor(
      pool,
      tenant.id,
      async () => undefined,
      () => request,
    );
    const [interactions, grants] = ['Interaction', 'Grant'].map((model) => new Adapter(model));
    await grants!.upsert('g-old', { accountId: 'ada', clientId: 'app', iat: 100 }, 3600);
    await grants!.upsert('g-new', { accountId: 'ada', clientId: 'app', iat: 200 }, 3600);
    await grants!.upsert('g-other-client', { accountId: 'ada', clientId: 'other', iat: 300 }, 3600);
    await grants!.upsert('g-expired', { accountId: 'ada', clientId: 'app', iat: 400 }, -1);
    const signedIn = (result: object) => ({ uid: 'x', params: { client_id: 'app' }, result });
    await interactions!.upsert('signed-in', signedIn({ login: { accountId: 'ada' } }), 3600);
    await interactions!.upsert('new-person', signedIn({ login: { accountId: 'bob' } }), 3600);
    await interactions!.upsert('consented', signedIn({ login: { accountId: 'ada' }, consent: { grantId: 'g-old' } }), 3600);
    await interactions!.upsert('not-yet', { uid: 'y', params: { client_id: 'app' } }, 3600);
    const artefacts = openRequestArtefacts(request);

    expect(await interactions!.find('signed-in')).toEqual(signedIn({ login: { accountId: 'ada' } }));
    expect(artefacts.knownLatestGrant('ada', 'app')).toEqual({ id: 'g-new', payload: { accountId: 'ada', clientId: 'app', iat: 200 } });

    await interactions!.find('new-person');
    expect(artefacts.knownLatestGrant('bob', 'app')).toBeNull();
    // A consent result names its grant, and an interaction nobody signed in to has no person yet: nothing is remembered.
    await interactions!.find('not-yet');
    const fresh = openRequestArtefacts(request);
    await interactions!.find('consented');
    expect(fresh.knownLatestGrant('ada', 'app')).toBeUndefined();
    expect(await interactions!.find('gone')).toBeUndefined();
  });

  it('rotates signing keys with an overlap: the previous key stays in the JWKS', async () => {
    const tenant = await login.createTenant();
    const jwks = async () =>
      ((await (await fetch(`${login.issuer(tenant.slug)}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks();
    expect(before).toHaveLength(1);
    const rotated = await fetch(`${login.url}/admin/tenants/${tenant.slug}/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${login.adminToken}` },
    });
    expect(rotated.status).toBe(204);
    const after = await jwks();
    expect(after).toHaveLength(2);
    expect(after[1]).toBe(before[0]);
    const refused = await fetch(`${login.url}/admin/tenants/${tenant.slug}/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    });
    expect(refused.status).toBe(403);
  });
});
