import { apiRoutes, documentedRoutes, openApiProblems } from '#platform/testing';
import { startLogin, type LoginHarness } from './login-harness';

/** The OpenID Connect provider is mounted as one wildcard route per method; its endpoints are documented one by one. */
const PROVIDER_MOUNT = /^[A-Z]+ \/t\/:tenant\/\*$/;

describe('login OpenAPI document', () => {
  let h: LoginHarness;
  beforeAll(async () => {
    h = await startLogin();
  });
  afterAll(() => h.close());

  const docsJson = async () => (await fetch(`${h.url}/docs-json`)).json() as Promise<{ paths: Record<string, Record<string, unknown>> }>;

  test('/docs-json is valid OpenAPI 3.1 and documents every route login serves outside the provider mount', async () => {
    const document = await docsJson();
    expect(await openApiProblems(document)).toEqual([]);
    const served = apiRoutes(h.app);
    expect(served.filter((route) => PROVIDER_MOUNT.test(route))).not.toEqual([]);
    const own = served.filter((route) => !PROVIDER_MOUNT.test(route));
    const documented = documentedRoutes(document);
    expect(own.length).toBeGreaterThanOrEqual(8);
    for (const route of own) expect(documented).toContain(route);
    // What is documented and not a route of login's own is the provider's, behind the mount.
    for (const route of documented.filter((r) => !own.includes(r))) expect(route).toMatch(/^(GET|POST) \/t\/:tenant\//);
  });

  test("every endpoint a tenant's discovery document lists is documented", async () => {
    const tenant = await h.createTenant();
    const discovery = (await (await fetch(`${h.issuer(tenant.slug)}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    const endpoints = Object.entries(discovery)
      .filter(([name, value]) => (name.endsWith('_endpoint') || name === 'jwks_uri') && typeof value === 'string')
      .map(([, value]) => (value as string).replace(h.issuer(tenant.slug), '/t/{tenant}'));
    expect(endpoints).toContain('/t/{tenant}/token');
    const paths = Object.keys((await docsJson()).paths);
    for (const endpoint of [...endpoints, '/t/{tenant}/.well-known/openid-configuration']) expect(paths).toContain(endpoint);
  });

  test('/docs is Swagger UI from login itself', async () => {
    const page = await (await fetch(`${h.url}/docs`)).text();
    expect(page).toContain('<script src="docs/swagger-ui-bundle.js"></script>');
    expect((await fetch(`${h.url}/docs/swagger-ui-bundle.js`)).status).toBe(200);
  });
});
