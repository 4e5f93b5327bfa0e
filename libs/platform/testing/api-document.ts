import { Validator } from '@seriousme/openapi-schema-validator';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DOCUMENTATION_ROUTES } from '../src/openapi';
import { routesOf } from '../src/service-app';

/** Routes every service serves besides its own API: probes, metrics and the documentation itself. */
const PLATFORM_ROUTES = new Set(['GET /health/live', 'GET /health/ready', 'GET /metrics', ...DOCUMENTATION_ROUTES]);

/** `METHOD /path/:param` of every operation of an OpenAPI document. */
export function documentedRoutes(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    .sort();
}

/** The service's own routes: what its document must describe. CORS preflights (OPTIONS) are the browser's business. */
export function apiRoutes(app: NestFastifyApplication): string[] {
  return routesOf(app).filter((route) => !PLATFORM_ROUTES.has(route) && !route.startsWith('OPTIONS '));
}

/** The validation errors of an OpenAPI document against the official schema of its version; empty when valid. */
export async function openApiProblems(document: unknown): Promise<unknown[]> {
  const result = await new Validator().validate(document as Parameters<Validator['validate']>[0]);
  return result.valid ? [] : (result.errors as unknown[]);
}
