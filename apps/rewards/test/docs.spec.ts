import type { FastifyInstance } from 'fastify';
import { auth, startRewards, type RewardsHarness } from './rewards-harness';

/** Routes every service serves besides its own API (health, metrics, the documents themselves). */
const PLATFORM_ROUTES = new Set(['GET /health/live', 'GET /health/ready', 'GET /metrics', 'GET /docs', 'GET /docs-json']);

/** Every `METHOD /path` the router serves, read from Fastify's route tree (HEAD aside: Fastify adds it to every GET). */
function servedRoutes(fastify: FastifyInstance): string[] {
  const routes: string[] = [];
  const ancestors: string[] = [];
  for (const line of fastify.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^(.*?)── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    // "├── " at the top level, "│   ├── " one level down: four characters per level before the branch.
    const depth = (match[1]!.length - 1) / 4;
    ancestors.length = depth;
    ancestors.push(match[2]!);
    const path = ancestors.join('');
    for (const method of match[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

describe('OpenAPI document', () => {
  let h: RewardsHarness;

  beforeAll(async () => {
    h = await startRewards();
  });
  afterAll(() => h.close());

  test('/docs-json describes exactly the routes the app serves, with the body schemas the controllers enforce', async () => {
    const doc = await h.rewards.http().get('/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const served = servedRoutes(h.rewards.app.getHttpAdapter().getInstance() as FastifyInstance).filter(
      (route) => !PLATFORM_ROUTES.has(route),
    );
    expect(served.length).toBeGreaterThanOrEqual(13);
    expect(documented).toEqual(served);

    const paths = doc.body.paths;
    const body = (path: string, method: string) => paths[path][method].requestBody.content['application/json'].schema;
    expect(body('/t/{tenant}/program', 'put').required).toEqual(['rules']);
    expect(body('/t/{tenant}/rewards', 'post').required).toEqual(expect.arrayContaining(['name', 'cost', 'stock']));
    expect(body('/t/{tenant}/members/{userId}/redemptions', 'post').required).toEqual(['rewardId']);
    expect(body('/t/{tenant}/members/{userId}/adjustments', 'post').required).toEqual(['points', 'reason', 'actor']);
    expect(paths['/t/{tenant}/members/{userId}'].get.security).toEqual([{ apiKey: [] }]);
    expect(paths['/t/{tenant}/rewards'].post.responses['400'].content['application/problem+json']).toBeDefined();
  });

  test('what the document says a body must hold is what the API refuses without', async () => {
    const tenant = await h.createTenant();
    const refused = await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', stock: 1 });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('/cost');
  });

  test('/docs renders every operation for people, without scripts', async () => {
    const page = await h.rewards.http().get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).not.toContain('<script');
    for (const operation of [
      'PUT /t/{tenant}/program',
      'POST /t/{tenant}/members/{userId}/redemptions',
      'GET /t/{tenant}/members/{userId}/transactions',
      'POST /t/{tenant}/redemptions/{id}/cancellation',
    ]) {
      expect(page.text).toContain(operation);
    }
  });
});
