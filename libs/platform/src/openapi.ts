import { Controller, Get, Header, Inject } from '@nestjs/common';
import { z } from 'zod';

type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** How a caller proves who it is, in the words of PRODUCT.md's public API. */
export type ApiAuth = 'none' | 'adminToken' | 'apiKey' | 'accessToken' | 'writeKey';

export interface ApiOperation {
  readonly method: HttpMethod;
  /** OpenAPI path template, e.g. `/t/{tenant}/users`. */
  readonly path: string;
  readonly summary: string;
  readonly tags?: readonly string[];
  readonly auth?: ApiAuth;
  /** The zod schema the controller parses the body with: the document cannot drift from the check. */
  readonly body?: z.ZodType;
  readonly responses: Readonly<Record<number, string>>;
}

export interface ApiDescription {
  readonly title: string;
  readonly version: string;
  readonly description: string;
  readonly operations: readonly ApiOperation[];
}

const securitySchemes = {
  adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN of the installation' },
  apiKey: { type: 'http', scheme: 'bearer', description: "the tenant's server API key" },
  accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "an access token from the tenant's login issuer" },
  writeKey: { type: 'http', scheme: 'basic', description: 'the tracking write key as the Basic username' },
} as const;

const problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, message: { type: 'string' } } } },
  },
  required: ['type', 'title', 'status'],
};

/** An OpenAPI 3.1 document built from the operations a service declares next to its controllers. */
export function openApiDocument(api: ApiDescription): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of api.operations) {
    const parameters = [...operation.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const responses = Object.fromEntries(
      Object.entries(operation.responses).map(([status, description]) => [
        status,
        Number(status) >= 400
          ? { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } }
          : { description },
      ]),
    );
    (paths[operation.path] ??= {})[operation.method] = {
      summary: operation.summary,
      ...(operation.tags ? { tags: operation.tags } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(operation.auth && operation.auth !== 'none' ? { security: [{ [operation.auth]: [] }] } : { security: [] }),
      ...(operation.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: bodySchema(operation.body) } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: api.title, version: api.version, description: api.description },
    paths,
    components: { securitySchemes, schemas: { Problem: problem } },
  };
}

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}

export const OPENAPI_DOCUMENT = Symbol('tessera.platform.openapi');

/** `/docs-json` for tools, `/docs` for people: a page that needs no script and no CDN. */
@Controller()
export class DocsController {
  private readonly page: string;

  constructor(@Inject(OPENAPI_DOCUMENT) private readonly document: Record<string, unknown>) {
    this.page = renderDocsPage(document);
  }

  @Get('docs-json')
  json(): Record<string, unknown> {
    return this.document;
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  html(): string {
    return this.page;
  }
}

function renderDocsPage(document: Record<string, unknown>): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<
    string,
    Record<
      string,
      { summary: string; security?: Record<string, unknown>[]; requestBody?: unknown; responses: Record<string, { description: string }> }
    >
  >;
  const rows = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const auth = op.security?.[0] ? Object.keys(op.security[0]).join(', ') : 'none';
      const responses = Object.entries(op.responses)
        .map(([status, r]) => `<li><b>${status}</b> ${escapeHtml(r.description)}</li>`)
        .join('');
      const body = op.requestBody
        ? `<details><summary>request body schema</summary><pre>${escapeHtml(JSON.stringify(op.requestBody, null, 2))}</pre></details>`
        : '';
      return `<section><h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2><p>${escapeHtml(op.summary)} <small>(auth: ${auth})</small></p><ul>${responses}</ul>${body}</section>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}h2{font-size:1rem;margin-bottom:.2rem}section{border-top:1px solid #ddd;padding:.5rem 0}pre{background:#f6f6f6;padding:.5rem;overflow:auto}</style>
</head><body><h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1><p>${escapeHtml(info.description)}</p>
<p>Machine-readable: <a href="docs-json">docs-json</a> (OpenAPI 3.1).</p>${rows.join('\n')}</body></html>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
