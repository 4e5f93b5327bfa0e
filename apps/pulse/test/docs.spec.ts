import { apiRoutes, documentedRoutes, openApiProblems } from '#platform/testing';
import { startPulse, type PulseHarness } from './pulse-harness';

describe('pulse OpenAPI document', () => {
  let h: PulseHarness;
  beforeAll(async () => {
    h = await startPulse();
  });
  afterAll(() => h.close());

  test('/docs-json is valid OpenAPI 3.1 and describes exactly the routes pulse serves', async () => {
    const document = await h.http().get('/docs-json');
    expect(document.status).toBe(200);
    expect(await openApiProblems(document.body)).toEqual([]);
    const served = apiRoutes(h.app);
    expect(served).toContain('POST /v1/batch');
    expect(served).toContain('GET /t/:tenant/profiles/:kind/:value');
    expect(documentedRoutes(document.body)).toEqual(served);
    expect(document.body.paths['/v1/track'].post.security).toEqual([{ writeKey: [] }]);
    expect(document.body.paths['/t/{tenant}/live'].get.security).toEqual([{ apiKey: [] }]);
  });

  test('/docs is Swagger UI from pulse itself', async () => {
    const page = await h.http().get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script src="docs/swagger-ui-bundle.js"></script>');
    expect(page.text).toContain('POST /v1/batch');
  });
});
