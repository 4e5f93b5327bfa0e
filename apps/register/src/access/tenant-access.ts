import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CommandRunner } from '#cqrs';
import { ProblemError } from '#platform';
import { tenantStreamFor } from '#contracts';
import { authorizeApiKey, bearerUnauthorized as unauthorized, TenantKeyLookup } from '#tenant-keys';
import { TenantDirectory, type TenantRecord } from '../tenants/tenant-directory';
import { tenantDecider } from '../tenants/tenant.decider';
import { AccessTokenVerifier } from './access-token';

export const ADMIN_TOKEN = Symbol('AdminToken');

export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const forbidden = (detail: string) => new ProblemError({ status: 403, type: 'forbidden', title: 'Not allowed for this tenant', detail });

/**
 * Who may call what: the admin token for /admin, a tenant's API key or a person's access token
 * for /t/{tenant}. A credential of another tenant gets 403 so a misconfigured client learns why.
 */
@Injectable()
export class TenantAccess {
  private readonly adminTokenDigest: Buffer;

  constructor(
    private readonly tenants: TenantDirectory,
    private readonly tokens: AccessTokenVerifier,
    private readonly keys: TenantKeyLookup,
    private readonly runner: CommandRunner,
    @Inject(ADMIN_TOKEN) adminToken: string,
  ) {
    this.adminTokenDigest = createHash('sha256').update(adminToken).digest();
  }

  requireAdmin(request: IncomingRequest): void {
    const presented = bearerOf(request);
    if (!presented) throw unauthorized('send the admin token as Authorization: Bearer');
    // Comparing digests keeps the comparison constant-time whatever the presented length.
    const digest = createHash('sha256').update(presented).digest();
    if (!timingSafeEqual(digest, this.adminTokenDigest)) throw forbidden('the admin token is not valid');
  }

  /** The admin token, or else the tenant's API key (a key of another tenant gets 403). */
  async requireAdminOrApiKey(request: IncomingRequest, slug: string): Promise<TenantRecord> {
    const presented = bearerOf(request);
    if (presented && timingSafeEqual(createHash('sha256').update(presented).digest(), this.adminTokenDigest)) return this.tenant(slug);
    return this.requireApiKey(request, slug);
  }

  async tenant(slug: string): Promise<TenantRecord> {
    const tenant = /^[a-z0-9-]{1,63}$/.test(slug) ? await this.tenants.bySlug(slug) : undefined;
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return tenant;
  }

  async requireApiKey(request: IncomingRequest, slug: string): Promise<TenantRecord> {
    const tenant = await this.tenant(slug);
    await authorizeApiKey(this.keys, tenant.tenantId, bearerOf(request), {
      howToSend: "send the tenant's API key as Authorization: Bearer",
      // A key the read model has yet to take in (a rolling update's old replica applied its event) is still the tenant's.
      keyRing: async () => (await this.runner.load(tenantStreamFor(slug), tenantDecider)).state.ring,
    });
    return tenant;
  }

  async requirePerson(request: IncomingRequest, slug: string): Promise<{ tenant: TenantRecord; userId: string }> {
    const tenant = await this.tenant(slug);
    const presented = bearerOf(request);
    if (!presented) throw unauthorized('send an access token as Authorization: Bearer');
    const claims = await this.tokens.verify(presented);
    if (!claims) throw unauthorized('the access token is not valid or has expired');
    if (claims.tenantId !== tenant.tenantId) throw forbidden('this access token was issued for another tenant');
    return { tenant, userId: claims.userId };
  }
}

function bearerOf(request: IncomingRequest): string | undefined {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
}

/** The caller's request id when it sent one we can trust the shape of, else a fresh one. */
export function correlationIdOf(request: IncomingRequest): string {
  const header = request.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}

/** Who is asking, as the request limits and the events' correlation see it. */
export interface Caller {
  readonly ip: string;
  readonly correlationId: string;
}

export function callerOf(request: IncomingRequest & { readonly ip: string }): Caller {
  return { ip: request.ip, correlationId: correlationIdOf(request) };
}
