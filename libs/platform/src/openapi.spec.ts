import { z } from 'zod';
import { openApiProblems } from '../testing/api-document';
import { openApiDocument, type ApiDescription } from './openapi';

const api: ApiDescription = {
  title: 'Sample',
  version: '1',
  description: 'A service with one operation',
  operations: [
    {
      method: 'post',
      path: '/t/{tenant}/things',
      summary: 'Make a thing',
      auth: 'apiKey',
      body: z.object({ name: z.string().max(10), count: z.number().int().min(0) }).strict(),
      responses: { 201: 'made', 400: 'invalid input' },
    },
  ],
};

describe('OpenAPI documents', () => {
  test('what openApiDocument builds is valid OpenAPI 3.1, body schema, path parameters and problem responses included', async () => {
    const document = openApiDocument(api) as {
      paths: Record<string, { post: { parameters: unknown[]; responses: Record<string, unknown> } }>;
    };
    expect(await openApiProblems(document)).toEqual([]);
    expect(document.paths['/t/{tenant}/things']!.post.parameters).toEqual([
      { name: 'tenant', in: 'path', required: true, schema: { type: 'string' } },
    ]);
    expect(document.paths['/t/{tenant}/things']!.post.responses['400']).toMatchObject({ content: { 'application/problem+json': {} } });
  });

  test('the validator refuses a document that breaks the specification', async () => {
    const document = openApiDocument(api) as Record<string, unknown>;
    expect(await openApiProblems({ ...document, info: { version: '1' } })).not.toEqual([]);
    expect(await openApiProblems({ ...document, paths: { 'no-leading-slash': {} } })).not.toEqual([]);
  });
});
