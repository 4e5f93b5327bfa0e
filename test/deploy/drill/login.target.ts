import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { eventually, json, post, replicaEnv, tenantThroughRegister, type DrillTarget } from './drill';

const API_AUDIENCE = 'urn:tessera:api';

/**
 * Discovery and client-credentials tokens while the replicas roll. Each replica may build the
 * tenant's provider and signing key on first use: every token handed out during the roll must
 * still verify against the tenant's JWKS once the roll is over (no replica minted its own key).
 */
export const loginTarget = (): DrillTarget => {
  const masterKey = randomBytes(32).toString('base64');
  const adminToken = randomBytes(24).toString('base64url');
  return {
    service: 'login',
    entry: 'apps/login/src/main.ts',
    env: (databaseUrl, balancerUrl) => replicaEnv(databaseUrl, masterKey, { ADMIN_TOKEN: adminToken, LOGIN_PUBLIC_URL: balancerUrl }),
    async prepare(balancerUrl, databaseUrl) {
      const tenant = await tenantThroughRegister(databaseUrl, masterKey);
      let client: { clientId: string; clientSecret: string } | undefined;
      await eventually(async () => {
        const response = await fetch(
          `${balancerUrl}/admin/tenants/${tenant.slug}/clients`,
          post(
            { name: 'Drill service', type: 'confidential', grantTypes: ['client_credentials'], redirectUris: [] },
            { authorization: `Bearer ${adminToken}` },
          ),
        );
        if (response.status === 404) return false;
        client = await json(response, 201);
        return true;
      });
      const basic = `Basic ${Buffer.from(`${encodeURIComponent(client!.clientId)}:${encodeURIComponent(client!.clientSecret)}`).toString('base64')}`;
      const issuer = `${balancerUrl}/t/${tenant.slug}`;
      const tokenPath = new URL(
        (await json<{ token_endpoint: string }>(await fetch(`${issuer}/.well-known/openid-configuration`), 200)).token_endpoint,
      ).pathname;
      const tokens: string[] = [];
      return {
        request: (i) =>
          i % 2 === 0
            ? {
                method: 'POST',
                path: tokenPath,
                headers: { authorization: basic },
                form: { grant_type: 'client_credentials', resource: API_AUDIENCE },
                expect: 200,
                acknowledged: (body) => tokens.push((body as { access_token: string }).access_token),
              }
            : { method: 'GET', path: `/t/${tenant.slug}/.well-known/openid-configuration`, expect: 200 },
        async verify() {
          const discovery = await json<{ jwks_uri: string; issuer: string }>(
            await fetch(`${issuer}/.well-known/openid-configuration`),
            200,
          );
          expect(discovery.issuer).toBe(issuer);
          const keys = createLocalJWKSet(await json<JSONWebKeySet>(await fetch(discovery.jwks_uri), 200));
          const failures: string[] = [];
          for (const token of tokens) {
            await jwtVerify(token, keys, { issuer, audience: API_AUDIENCE }).catch((error: Error) => failures.push(error.message));
          }
          expect(failures).toEqual([]);
          expect(tokens.length).toBeGreaterThan(20);
        },
      };
    },
  };
};
