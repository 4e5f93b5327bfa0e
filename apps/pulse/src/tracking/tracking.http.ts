import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { MessageKind } from '#contracts';
import { problemContentType, ProblemError, RequestValidationError, requestPath, SERVICE_LOGGER } from '#platform';
import { TenantKeys, type TrackingSender } from '../tenants/tenant-keys';
import { PIXEL_KINDS, pixelMessage, TRANSPARENT_GIF, wantsProblemDocument } from './pixel';
import { RefusalBudget } from './refusal-budget';
import { bodyTooLarge, decodeTrackingBody } from './tracking-body';
import { TrackingHandler, type TrackingRequest } from './tracking.handler';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, writeKeyProblem } from './segment-message';

/** Segment's HTTP API paths and analytics.js's short ones. */
const SINGLE_ROUTES: ReadonlyArray<[string, MessageKind]> = [
  ['track', 'track'],
  ['identify', 'identify'],
  ['page', 'page'],
  ['screen', 'screen'],
  ['group', 'group'],
  ['alias', 'alias'],
  ['t', 'track'],
  ['i', 'identify'],
  ['p', 'page'],
  ['s', 'screen'],
  ['g', 'group'],
  ['a', 'alias'],
];

// A gzipped single message may decompress up to the message limit plus some envelope slack.
const SINGLE_BODY_LIMIT = MAX_MESSAGE_BYTES + 1024;

/**
 * Where browsers reach pulse (PULSE_PUBLIC_URL), as analytics.js's settings name it: a host and path
 * without scheme, and the scheme apart. Taken from configuration, never from the request's Host
 * header, which any caller sets and a cache in front could serve to everyone.
 */
export class PulsePublicUrl {
  readonly apiHost: string;
  readonly protocol: string;

  constructor(publicUrl: string) {
    const url = new URL(publicUrl);
    this.apiHost = `${url.host}${url.pathname.replace(/\/+$/, '')}/v1`;
    this.protocol = url.protocol.replace(/:$/, '');
  }
}

const unauthorized = (detail: string) =>
  new ProblemError({
    status: 401,
    type: 'invalid-write-key',
    title: 'Invalid write key',
    detail,
    headers: { 'WWW-Authenticate': 'Basic realm="pulse"' },
  });

/**
 * The Segment-compatible tracking endpoints, as a Fastify plugin of their own rather than Nest
 * controllers: they need their own body handling (gzip, text/plain, Segment's size limits) and
 * open CORS, and they are the hottest path of the service.
 */
@Injectable()
export class TrackingRoutes implements OnModuleInit {
  /** Who sent each call in flight, once known: its refusal is charged to that tenant. */
  private readonly senders = new WeakMap<FastifyRequest, TrackingSender>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tracking: TrackingHandler,
    private readonly tenants: TenantKeys,
    private readonly publicUrl: PulsePublicUrl,
    private readonly refusals: RefusalBudget,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register((scope, _options, done) => {
      this.routes(scope);
      done();
    });
  }

  private routes(scope: FastifyInstance): void {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BATCH_BYTES }, (_request, body, done) => done(null, body));
    scope.addHook('onRequest', (request, reply, done) => {
      // Write keys ship in web pages, so any site may send; nothing here reads data back.
      reply.header('access-control-allow-origin', request.headers.origin ?? '*');
      // No Allow-Credentials: tracking uses no cookies, so a browser never sends any with these calls.
      reply.header('vary', 'Origin');
      done();
    });
    // A key sent as HTTP Basic names its tenant before the body is read: a tenant past its budget of
    // refused calls is answered 429 without a parse (see RefusalBudget).
    scope.addHook('onRequest', async (request) => {
      const key = request.method === 'POST' ? basicUser(header(request, 'authorization')) : undefined;
      const sender = key && key.length <= 256 ? await this.tenants.sender(key) : undefined;
      if (!sender) return;
      this.senders.set(request, sender);
      await this.refusals.admit(sender.tenantId);
    });
    scope.setErrorHandler((error, request, reply) => this.renderProblem(error, request, reply));
    scope.options('/v1/*', (request, reply) => {
      reply
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header(
          'access-control-allow-headers',
          request.headers['access-control-request-headers'] ?? 'content-type, authorization, content-encoding',
        )
        .header('access-control-max-age', '86400')
        .status(204)
        .send();
    });
    for (const [path, kind] of SINGLE_ROUTES) {
      scope.post(`/v1/${path}`, async (request, reply) => {
        const receivedAt = new Date();
        const body = await decodeTrackingBody(request.body as Buffer | undefined, header(request, 'content-encoding'), SINGLE_BODY_LIMIT);
        checkBodyWriteKey(body);
        const tenant = await this.authenticate(request, body);
        await this.tracking.single(kind, body, tracked(request, tenant, receivedAt));
        return reply.status(200).send({ success: true });
      });
    }
    for (const path of ['batch', 'b', 'import']) {
      scope.post(`/v1/${path}`, async (request, reply) => {
        const receivedAt = new Date();
        const body = await decodeTrackingBody(request.body as Buffer | undefined, header(request, 'content-encoding'), MAX_BATCH_BYTES);
        checkBodyWriteKey(body);
        const tenant = await this.authenticate(request, body);
        await this.tracking.batch(body, { ...tracked(request, tenant, receivedAt), historical: path === 'import' });
        return reply.status(200).send({ success: true });
      });
    }
    scope.get<{ Params: { type: string }; Querystring: Record<string, unknown> }>('/v1/pixel/:type', async (request, reply) => {
      const kind = PIXEL_KINDS.find((known) => known === request.params.type);
      if (!kind) {
        throw new ProblemError({
          status: 404,
          type: 'route-not-found',
          title: 'Route not found',
          detail: `pixel types: ${PIXEL_KINDS.join(', ')}`,
        });
      }
      const receivedAt = new Date();
      try {
        const body = pixelMessage(request.query);
        checkBodyWriteKey(body);
        const tenant = await this.authenticate(request, body);
        await this.tracking.single(kind, body, tracked(request, tenant, receivedAt));
      } catch (error) {
        if (!(error instanceof ProblemError) || error.status >= 500 || wantsProblemDocument(header(request, 'accept'))) throw error;
        // An image gets its GIF even when refused (a mail would show a broken image); the refusal is still the tenant's.
        const sender = this.senders.get(request);
        if (sender) this.refusals.answered(sender.tenantId, error.status);
        reply.header('tessera-refused', error.type);
      }
      return reply.status(200).header('content-type', 'image/gif').header('cache-control', 'no-store, private').send(TRANSPARENT_GIF);
    });
    scope.get<{ Params: { writeKey: string } }>('/v1/projects/:writeKey/settings', async (request, reply) => {
      const tenant = await this.tenants.byWriteKey(request.params.writeKey);
      if (!tenant)
        throw new ProblemError({
          status: 404,
          type: 'unknown-write-key',
          title: 'Unknown write key',
          detail: 'no source has this write key',
        });
      return reply.send({
        integrations: {
          'Segment.io': {
            apiKey: request.params.writeKey,
            apiHost: this.publicUrl.apiHost,
            protocol: this.publicUrl.protocol,
            unbundledIntegrations: [],
            addBundledMetadata: false,
          },
        },
        plan: {
          track: { __default: { enabled: true, integrations: {} } },
          identify: { __default: { enabled: true } },
          group: { __default: { enabled: true } },
        },
        edgeFunction: {},
        analyticsNextEnabled: true,
        middlewareSettings: {},
        enabledMiddleware: {},
        metrics: { sampleRate: 0 },
        legacyVideoPluginsEnabled: false,
        remotePlugins: [],
      });
    });
  }

  /**
   * A write key (a client source) or a server key (a server source), as HTTP Basic user name
   * (server libraries) or `writeKey` in the body (analytics.js); messages record which source sent them.
   */
  private async authenticate(request: FastifyRequest, body: Record<string, unknown>): Promise<TrackingSender> {
    const known = this.senders.get(request);
    if (known) return known;
    const key = basicUser(header(request, 'authorization')) ?? (typeof body.writeKey === 'string' ? body.writeKey : undefined);
    if (!key) throw unauthorized('send the write key as the HTTP Basic user name or as writeKey in the body');
    if (key.length > 256) throw unauthorized('the write key is not valid');
    const sender = await this.tenants.sender(key);
    if (!sender) throw unauthorized('the write key is not valid');
    this.senders.set(request, sender);
    // A key in the body: the body is read and parsed by now, and a held refusal keeps it.
    await this.refusals.admit(sender.tenantId, (request.body as Buffer | undefined)?.length ?? 0);
    return sender;
  }

  private renderProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const code = (error as { code?: string }).code;
    let problem: ProblemError;
    if (error instanceof ProblemError) problem = error;
    else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') problem = bodyTooLarge(MAX_BATCH_BYTES);
    else if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      problem = new ProblemError({
        status: 400,
        type: 'bad-content-length',
        title: 'Bad Content-Length',
        detail: 'the Content-Length header does not match the body',
      });
    } else {
      this.logger.error({ err: error, requestId: request.id, route: request.routeOptions?.url ?? null }, 'unhandled error');
      problem = new ProblemError({
        status: 500,
        type: 'internal-error',
        title: 'Internal Server Error',
        detail: 'the service failed to handle the request',
      });
    }
    const sender = this.senders.get(request);
    if (sender) this.refusals.answered(sender.tenantId, problem.status);
    // A 503's store failure, or what a 422 may say of the value the store refused (names, no values).
    if (error instanceof ProblemError && error.cause) this.logger.warn({ err: error.cause, requestId: request.id }, problem.title);
    void reply
      .status(problem.status)
      .headers({ ...problem.headers, 'content-type': problemContentType })
      .send(JSON.stringify({ ...problem.toDocument(requestPath(request.url)), requestId: request.id }));
  }
}

/** What the handler needs to know of a call besides its messages. */
function tracked(request: FastifyRequest, sender: TrackingSender, receivedAt: Date): TrackingRequest {
  return { tenantId: sender.tenantId, requestId: request.id, receivedAt, ip: request.ip, source: sender.source };
}

/** analytics.js sends the write key in the body; one that is not a key is a bad field, not a bad key. */
function checkBodyWriteKey(body: Record<string, unknown>): void {
  const problem = writeKeyProblem(body.writeKey);
  if (problem) throw new RequestValidationError([{ pointer: '/writeKey', message: problem }]);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function basicUser(authorization: string | undefined): string | undefined {
  const match = authorization ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user === '' ? undefined : user;
}
