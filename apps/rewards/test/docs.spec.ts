import { apiRoutes, documentedRoutes, openApiProblems } from '#platform/testing';
import { auth, startRewards, type RewardsHarness } from './rewards-harness';

describe('OpenAPI document', () => {
  let h: RewardsHarness;

  beforeAll(async () => {
    h = await startRewards();
  });
  afterAll(() => h.close());

  test('/docs-json is a valid OpenAPI 3.1 document of exactly the routes the app serves, with the body schemas the controllers enforce', async () => {
    const doc = await h.rewards.http().get('/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(await openApiProblems(doc.body)).toEqual([]);
    const served = apiRoutes(h.rewards.app);
    expect(served.length).toBeGreaterThanOrEqual(13);
    expect(documentedRoutes(doc.body)).toEqual(served);

    const paths = doc.body.paths;
    const body = (path: string, method: string) => paths[path][method].requestBody.content['application/json'].schema;
    expect(body('/t/{tenant}/program', 'put').required).toEqual(['rules']);
    expect(body('/t/{tenant}/rewards', 'post').required).toEqual(expect.arrayContaining(['name', 'cost', 'stock']));
    expect(body('/t/{tenant}/members/{userId}/redemptions', 'post').required).toEqual(['rewardId']);
    expect(body('/t/{tenant}/members/{userId}/adjustments', 'post').required).toEqual(['points', 'reason', 'actor']);
    expect(paths['/t/{tenant}/members/{userId}'].get.security).toEqual([{ apiKey: [] }]);
    expect(paths['/t/{tenant}/rewards'].post.responses['400'].content['application/problem+json']).toEqual({
      schema: { $ref: '#/components/schemas/Problem' },
    });
  });

  test('what the document says a body must hold is what the API refuses without', async () => {
    const tenant = await h.createTenant();
    const refused = await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', stock: 1 });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('/cost');
  });

  test('/docs is Swagger UI served by the service itself, and lists every operation without scripts', async () => {
    const page = await h.rewards.http().get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"/g)].map(([, src]) => src!);
    expect(scripts).toEqual(['docs/swagger-ui-bundle.js', 'docs/init.js']);
    for (const src of [...scripts, 'docs/swagger-ui.css']) {
      const asset = await h.rewards.http().get(`/${src}`);
      expect(asset.status).toBe(200);
      expect(asset.headers['content-type']).toMatch(src.endsWith('.css') ? /text\/css/ : /text\/javascript/);
    }
    expect((await h.rewards.http().get('/docs/swagger-ui-bundle.js')).text).toContain('SwaggerUIBundle');
    const noscript = /<noscript>([\s\S]*)<\/noscript>/.exec(page.text)![1]!;
    for (const operation of [
      'PUT /t/{tenant}/program',
      'POST /t/{tenant}/members/{userId}/redemptions',
      'GET /t/{tenant}/members/{userId}/transactions',
      'POST /t/{tenant}/redemptions/{id}/cancellation',
    ]) {
      expect(noscript).toContain(operation);
    }
  });
});
