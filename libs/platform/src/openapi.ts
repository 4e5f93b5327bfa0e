import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, Inject } from '@nestjs/common';
import { z } from 'zod';
import { escapeHtml } from './hosted-page';

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
  /** Other media types the body may come as, each with the schema of what it carries (NDJSON: one line). */
  readonly alsoAccepts?: Readonly<Record<string, z.ZodType>>;
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
      ...(operation.body ? { requestBody: { required: true, content: requestContent(operation.body, operation.alsoAccepts) } } : {}),
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

function requestContent(body: z.ZodType, alsoAccepts: Readonly<Record<string, z.ZodType>> = {}): Record<string, unknown> {
  const content: Record<string, unknown> = { 'application/json': { schema: bodySchema(body) } };
  for (const [mediaType, schema] of Object.entries(alsoAccepts)) content[mediaType] = { schema: bodySchema(schema) };
  return content;
}

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}

export const OPENAPI_DOCUMENT = Symbol('tessera.platform.openapi');

/** The Swagger UI files /docs serves, from the swagger-ui-dist package: no CDN, nothing fetched at run time. */
const SWAGGER_UI_ASSETS = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const;

// A file rather than an inline script, so a strict Content-Security-Policy (script-src 'self') can be used.
const SWAGGER_UI_INIT = "window.ui = SwaggerUIBundle({ url: 'docs-json', dom_id: '#swagger-ui', deepLinking: true });\n";

/** Routes the documentation itself adds to every service: not part of its API. */
export const DOCUMENTATION_ROUTES = [
  'GET /docs',
  'GET /docs-json',
  'GET /docs/init.js',
  ...Object.keys(SWAGGER_UI_ASSETS).map((file) => `GET /docs/${file}`),
];

/**
 * `/docs-json` for tools, `/docs` for people: Swagger UI, served from the service itself, over the
 * document; without JavaScript the page lists every operation.
 */
@Controller()
export class DocsController {
  private readonly page: string;
  private assets?: Map<string, Buffer>;

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

  @Get('docs/init.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  init(): string {
    return SWAGGER_UI_INIT;
  }

  @Get('docs/swagger-ui.css')
  @Header('content-type', SWAGGER_UI_ASSETS['swagger-ui.css'])
  @Header('cache-control', 'public, max-age=86400')
  css(): Buffer {
    return this.asset('swagger-ui.css');
  }

  @Get('docs/swagger-ui-bundle.js')
  @Header('content-type', SWAGGER_UI_ASSETS['swagger-ui-bundle.js'])
  @Header('cache-control', 'public, max-age=86400')
  bundle(): Buffer {
    return this.asset('swagger-ui-bundle.js');
  }

  /** Read on first use: a service that nobody asks for its docs never loads 1.5 MB of JavaScript. */
  private asset(file: keyof typeof SWAGGER_UI_ASSETS): Buffer {
    if (!this.assets) {
      const directory = dirname(require.resolve('swagger-ui-dist/package.json'));
      this.assets = new Map(Object.keys(SWAGGER_UI_ASSETS).map((name) => [name, readFileSync(join(directory, name))]));
    }
    return this.assets.get(file)!;
  }
}

function renderDocsPage(document: Record<string, unknown>): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<string, Record<string, { summary: string; security?: Record<string, unknown>[] }>>;
  const operations = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const auth = op.security?.[0] ? Object.keys(op.security[0]).join(', ') : 'none';
      return `<li><code>${method.toUpperCase()} ${escapeHtml(path)}</code> ${escapeHtml(op.summary)} <small>(auth: ${auth})</small></li>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)}</title><link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript><h1>${escapeHtml(info.title)} ${escapeHtml(info.version)}</h1><p>${escapeHtml(info.description)}</p>
<p>Machine-readable: <a href="docs-json">docs-json</a> (OpenAPI 3.1).</p><ul>${operations.join('\n')}</ul></noscript>
<script src="docs/swagger-ui-bundle.js"></script><script src="docs/init.js"></script></body></html>`;
}
