import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpMetrics } from './metrics';
import type { ServiceLifecycle } from './shutdown';

export const requestIdHeader = 'x-request-id';

// A caller-supplied id ends up in every log line of the request; anything outside this
// alphabet could forge log structure or smuggle data, so it is replaced rather than escaped.
const acceptableRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps an upstream proxy's request id for correlation, or mints one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && acceptableRequestId.test(value) ? value : randomUUID();
}

/** The path of a request target without its query string, which may carry tokens. */
export function requestPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Endpoints polled by the platform itself; logged at debug so probes do not drown real traffic. */
const probeRoutes = new Set(['/health/live', '/health/ready', '/metrics']);

export interface RequestTelemetry {
  readonly logger: Logger;
  readonly httpMetrics: HttpMetrics;
  readonly lifecycle: ServiceLifecycle;
}

/**
 * One log line and one histogram observation per request, keyed by route template.
 * Neither bodies nor headers nor query strings are logged: they carry credentials and personal data.
 */
export function instrumentRequests(fastify: FastifyInstance, telemetry: RequestTelemetry): void {
  const { httpMetrics, lifecycle } = telemetry;
  // These lines have a fixed shape of fields that are safe by construction (no headers, bodies or
  // query strings), so they skip the redaction pass, which costs more than the rest of the line.
  const logger = telemetry.logger.child({}, { redact: [] });

  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(requestIdHeader, request.id);
    // Handlers that hijack the reply (login's oidc-provider) write the raw response and skip onSend.
    if (lifecycle.draining && request.raw.httpVersionMajor < 2) reply.raw.setHeader('connection', 'close');
    done();
  });

  fastify.addHook('onSend', (request, reply, payload, done) => {
    // While draining, pooled keep-alive clients are told to reconnect, which lands them on
    // another replica, and the socket closes as soon as its response is written.
    if (lifecycle.draining && request.raw.httpVersionMajor < 2) reply.header('connection', 'close');
    done(null, payload);
  });

  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions?.url;
    const status = reply.statusCode;
    httpMetrics.observe(request.method, route, status, reply.elapsedTime / 1000);
    const line = {
      requestId: request.id,
      method: request.method,
      route: route ?? null,
      ...(route === undefined ? { path: requestPath(request.url) } : {}),
      status,
      durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
    };
    if (status >= 500) logger.warn(line, 'request failed');
    else if (route !== undefined && probeRoutes.has(route)) logger.debug(line, 'request completed');
    else logger.info(line, 'request completed');
    done();
  });
}
