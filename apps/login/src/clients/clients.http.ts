import { randomBytes, randomUUID } from 'node:crypto';
import { Body, Controller, Delete, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import { z } from 'zod';
import { CommandRunner, ProjectionRunner } from '#cqrs';
import { BOUNDS, bounded, parseBody, ProblemError } from '#platform';
import { ADMIN_TOKEN, requireAdmin } from '../admin-access';
import { LoginDirectory, type LoginTenant } from '../directory';
import { SigningKeys } from '../keys/signing-keys';
import { ProviderCache } from '../oidc/provider-cache';
import { ClientCache } from './client-cache';
import { clientDecider, type ClientCommand, type ClientRejection } from './client.decider';
import { clientStreamFor } from './client.events';
import { hashClientSecret, newClientSecret } from './client-secrets';

/**
 * Stored as sent and compared byte for byte with what relying parties send, so checked as sent:
 * the URL parser would quietly drop a tab or line break that storage and logs would still hold.
 */
const redirectUri = bounded
  .identifier(BOUNDS.textLength)
  .pipe(z.url({ protocol: /^https?$/ }))
  .refine((uri) => !uri.includes('#'), { message: 'must not contain a fragment' });
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'] as const;

export const registerClientBody = z
  .object({
    name: bounded.name(),
    type: z.enum(['public', 'confidential']),
    redirectUris: z.array(redirectUri).max(20).default([]),
    postLogoutRedirectUris: z.array(redirectUri).max(20).default([]),
    grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.type === 'public' && body.grantTypes.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grantTypes'], message: 'a public client cannot use client_credentials' });
    }
    if (body.type === 'public' && body.tokenEndpointAuthMethod) {
      ctx.addIssue({ code: 'custom', path: ['tokenEndpointAuthMethod'], message: 'a public client does not authenticate' });
    }
    if (body.grantTypes.includes('authorization_code') && body.redirectUris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirectUris'], message: 'authorization_code needs at least one redirect URI' });
    }
  });

/** OAuth clients of a tenant, registered by the operator; the secret is in the answer and nowhere else. */
@Controller('admin/tenants/:tenant')
export class ClientsController {
  constructor(
    private readonly runner: CommandRunner,
    private readonly projection: ProjectionRunner,
    private readonly directory: LoginDirectory,
    private readonly keys: SigningKeys,
    private readonly providers: ProviderCache,
    private readonly clients: ClientCache,
    @Inject(ADMIN_TOKEN) private readonly adminToken: string,
  ) {}

  @Post('clients')
  @HttpCode(201)
  async register(@Param('tenant') slug: string, @Req() request: { headers: Record<string, string | undefined> }, @Body() body: unknown) {
    requireAdmin(request.headers, this.adminToken);
    const tenant = await this.tenant(slug);
    const input = parseBody(registerClientBody, body);
    const clientId = randomBytes(16).toString('base64url');
    const secret = input.type === 'confidential' ? newClientSecret() : undefined;
    const now = new Date();
    const outcome = await this.runner.handle({
      streamName: clientStreamFor(tenant.tenantId, clientId),
      decider: clientDecider,
      command: {
        kind: 'Register',
        clientId,
        name: input.name,
        clientKind: input.type,
        redirectUris: input.redirectUris,
        postLogoutRedirectUris: input.postLogoutRedirectUris,
        grantTypes: input.grantTypes,
        tokenEndpointAuthMethod: input.type === 'public' ? 'none' : (input.tokenEndpointAuthMethod ?? 'client_secret_basic'),
        secretHash: secret ? hashClientSecret(secret) : null,
        now,
      },
      context: { tenantId: tenant.tenantId, correlationId: randomUUID(), now },
      retriesOnConflict: 0,
    });
    if (!outcome.accepted)
      throw new ProblemError({ status: 409, type: 'client-exists', title: 'Client exists', detail: 'retry the registration' });
    // The caller's next request is usually with this client: answer once the provider can find it.
    if (outcome.position) await this.projection.waitFor(outcome.position);
    return { clientId, ...(secret ? { clientSecret: secret } : {}) };
  }

  /** A new secret, returned once; the previous one stops working at once. */
  @Post('clients/:clientId/secret')
  @HttpCode(201)
  async rotateSecret(
    @Param('tenant') slug: string,
    @Param('clientId') clientId: string,
    @Req() request: { headers: Record<string, string | undefined> },
  ) {
    requireAdmin(request.headers, this.adminToken);
    const secret = newClientSecret();
    await this.change(await this.tenant(slug), clientId, { kind: 'RotateSecret', secretHash: hashClientSecret(secret), now: new Date() });
    return { clientId, clientSecret: secret };
  }

  @Put('clients/:clientId/redirect-uris')
  @HttpCode(204)
  async changeRedirectUris(
    @Param('tenant') slug: string,
    @Param('clientId') clientId: string,
    @Req() request: { headers: Record<string, string | undefined> },
    @Body() body: unknown,
  ): Promise<void> {
    requireAdmin(request.headers, this.adminToken);
    const input = parseBody(
      z.object({ redirectUris: z.array(redirectUri).max(20), postLogoutRedirectUris: z.array(redirectUri).max(20).default([]) }).strict(),
      body,
    );
    await this.change(await this.tenant(slug), clientId, { kind: 'ChangeRedirectUris', ...input });
  }

  @Delete('clients/:clientId')
  @HttpCode(204)
  async disable(
    @Param('tenant') slug: string,
    @Param('clientId') clientId: string,
    @Req() request: { headers: Record<string, string | undefined> },
  ): Promise<void> {
    requireAdmin(request.headers, this.adminToken);
    await this.change(await this.tenant(slug), clientId, { kind: 'Disable', now: new Date() });
  }

  private async change(tenant: LoginTenant, clientId: string, command: ClientCommand): Promise<void> {
    // Client ids are minted here (16 random bytes, base64url); anything else names no client, and
    // must not reach a stream name.
    if (!CLIENT_ID.test(clientId)) throw clientProblem({ kind: 'UnknownClient' }, 'with this id');
    const now = new Date();
    const outcome = await this.runner.handle({
      streamName: clientStreamFor(tenant.tenantId, clientId),
      decider: clientDecider,
      command,
      context: { tenantId: tenant.tenantId, correlationId: randomUUID(), now },
    });
    if (!outcome.accepted) throw clientProblem(outcome.rejection, clientId);
    if (outcome.position) await this.projection.waitFor(outcome.position);
    // Other replicas learn it from the client events; this one answers with the change in force.
    this.clients.forget(tenant.tenantId, clientId);
  }

  /** Starts signing with a new key; the previous one stays in the JWKS for the overlap window. */
  @Post('signing-keys/rotate')
  @HttpCode(204)
  async rotateKeys(@Param('tenant') slug: string, @Req() request: { headers: Record<string, string | undefined> }): Promise<void> {
    requireAdmin(request.headers, this.adminToken);
    const tenant = await this.tenant(slug);
    await this.keys.rotate(tenant.tenantId);
    this.providers.evict(tenant.tenantId);
  }

  private async tenant(slug: string): Promise<LoginTenant> {
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return tenant;
  }
}

function clientProblem(rejection: ClientRejection, clientId: string): ProblemError {
  switch (rejection.kind) {
    case 'UnknownClient':
      return new ProblemError({
        status: 404,
        type: 'client-not-found',
        title: 'Unknown client',
        detail: `no client ${clientId} in this tenant`,
      });
    case 'ClientDisabled':
      return new ProblemError({ status: 409, type: 'client-disabled', title: 'Client disabled', detail: `client ${clientId} is disabled` });
    case 'PublicClientHasNoSecret':
      return new ProblemError({
        status: 409,
        type: 'public-client',
        title: 'Public clients have no secret',
        detail: `client ${clientId} is public`,
      });
    case 'ClientExists':
      return new ProblemError({ status: 409, type: 'client-exists', title: 'Client exists', detail: `client ${clientId} exists` });
  }
}
