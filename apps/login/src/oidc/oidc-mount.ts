import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { problemContentType, problemDocument } from '#platform';
import { LoginDirectory } from '../directory';
import { ProviderCache } from './provider-cache';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Serves every tenant's oidc-provider under /t/{tenant}/: a Fastify catch-all hands the raw
 * request, with the mount prefix moved to originalUrl (how oidc-provider learns its mount path),
 * to that tenant's provider. Nest's own routes under /t/{tenant}/interaction are more specific
 * and win. The route lives in its own Fastify scope whose only body parser leaves the stream
 * unread: oidc-provider parses request bodies itself, with its own limits and checks.
 */
@Injectable()
export class OidcMount implements OnModuleInit {
  private readonly handlers = new WeakMap<Provider, Handler>();

  constructor(
    private readonly host: HttpAdapterHost,
    private readonly directory: LoginDirectory,
    private readonly providers: ProviderCache,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter.getInstance<FastifyInstance>();
    void fastify.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
      scope.all('/t/:tenant/*', (request, reply) => this.serve(request as FastifyRequest<{ Params: { tenant: string } }>, reply));
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
    const provider = await this.providers.get(tenant);
    let handler = this.handlers.get(provider);
    if (!handler) {
      handler = provider.callback();
      this.handlers.set(provider, handler);
    }
    const raw = request.raw as IncomingMessage & { originalUrl?: string };
    trustedForwarding(request);
    const prefix = `/t/${slug}`;
    raw.originalUrl = raw.url;
    raw.url = (raw.url ?? '/').slice(prefix.length) || '/';
    reply.hijack();
    handler(raw, reply.raw);
  }
}

/**
 * oidc-provider (Koa) either believes every X-Forwarded-* header or none; TRUST_PROXY can also be
 * a hop count or a list of proxy addresses. Fastify already applied that policy, so its
 * conclusions (scheme, host, client address) replace whatever the caller sent.
 */
function trustedForwarding(request: FastifyRequest): void {
  const headers = request.raw.headers;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers['x-forwarded-for'] = request.ip;
}
