import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { ProblemError, problemContentType, problemDocument, requestPath, TenantConcurrencyLimiter } from '#platform';
import { LoginDirectory, type LoginTenant } from '../directory';
import { ProviderCache } from './provider-cache';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const handlers = new WeakMap<Provider, Handler>();

/** The provider's Koa request handler, built once per provider; resolves once Koa is done with the request. */
export function handlerOf(provider: Provider): Handler {
  let handler = handlers.get(provider);
  if (!handler) {
    handler = provider.callback() as unknown as Handler;
    handlers.set(provider, handler);
  }
  return handler;
}

/** OpenID requests (token, authorization, userinfo, ...) one tenant may have in flight in this process. */
export const OIDC_REQUEST_LIMITER = Symbol('OidcRequestLimiter');

/**
 * Serves every tenant's oidc-provider under /t/{tenant}/: a Fastify catch-all hands the raw
 * request, with the mount prefix moved to originalUrl (how oidc-provider learns its mount path),
 * to that tenant's provider. Nest's own routes under /t/{tenant}/interaction are more specific
 * and win. The route lives in its own Fastify scope whose only body parser leaves the stream
 * unread: oidc-provider parses request bodies itself, with its own limits and checks.
 *
 * Each tenant has a share of the requests in flight (OIDC_REQUEST_LIMITER): a tenant flooding its
 * token endpoint holds its own share of the event loop, the pool and the signing work, never every
 * tenant's; past it, it gets 429 with Retry-After.
 */
@Injectable()
export class OidcMount implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    private readonly directory: LoginDirectory,
    private readonly providers: ProviderCache,
    @Inject(OIDC_REQUEST_LIMITER) private readonly requests: TenantConcurrencyLimiter,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
      const serve = (request: FastifyRequest, reply: FastifyReply) =>
        this.serve(request as FastifyRequest<{ Params: { tenant: string } }>, reply);
      // The same handler, but its own route template: the request metrics (and the token-issuance
      // SLO built on them) can then tell token requests from the rest of the catch-all.
      scope.post('/t/:tenant/token', serve);
      scope.all('/t/:tenant/*', serve);
    });
  }

  private async serve(request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply): Promise<void> {
    const slug = request.params.tenant;
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant) {
      const document = problemDocument({
        status: 404,
        type: 'tenant-not-found',
        title: 'Unknown tenant',
        detail: `no tenant with slug ${slug}`,
      });
      await reply.code(404).type(problemContentType).send(document);
      return;
    }
    try {
      await this.requests.run(tenant.tenantId, () => this.handOver(tenant, request, reply), 'OpenID requests');
    } catch (error) {
      if (!(error instanceof ProblemError) || reply.sent) throw error;
      await reply
        .code(error.status)
        .headers(error.headers)
        .type(problemContentType)
        .send(error.toDocument(requestPath(request.url)));
    }
  }

  /** Hands the raw request to the tenant's provider; resolves once the response is done (or the connection gone). */
  private async handOver(tenant: LoginTenant, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const handler = handlerOf(await this.providers.get(tenant));
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    trustedForwarding(request);
    const prefix = `/t/${tenant.slug}`;
    raw.originalUrl = raw.url;
    raw.url = (raw.url ?? '/').slice(prefix.length) || '/';
    reply.hijack();
    const finished = new Promise<void>((resolve) => reply.raw.once('close', resolve));
    void handler(raw, reply.raw);
    await finished;
  }
}

/**
 * oidc-provider (Koa) either believes every X-Forwarded-* header or none; TRUST_PROXY can also be
 * a hop count or a list of proxy addresses. Fastify already applied that policy, so its
 * conclusions (scheme, host, client address) replace whatever the caller sent.
 */
export function trustedForwarding(request: FastifyRequest): void {
  const headers = request.raw.headers;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers['x-forwarded-for'] = request.ip;
}
