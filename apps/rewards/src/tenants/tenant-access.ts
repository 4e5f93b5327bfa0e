import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AccessTokenVerifier } from '#access';
import { ProblemError } from '#platform';
import { authorizeApiKey, TenantKeyLookup } from '#tenant-keys';
import { TenantDirectory, type TenantRecord } from './tenant-directory';

export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Every rewards call is made by the tenant's server with its API key; another tenant's key gets 403. */
@Injectable()
export class TenantAccess {
  constructor(
    private readonly tenants: TenantDirectory,
    private readonly keys: TenantKeyLookup,
    private readonly tokens: AccessTokenVerifier,
  ) {}

  async requireApiKey(request: IncomingRequest, slug: string): Promise<TenantRecord> {
    const tenant = /^[a-z0-9-]{1,63}$/.test(slug) ? await this.tenants.bySlug(slug) : undefined;
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    await authorizeApiKey(this.keys, tenant.tenantId, bearerOf(request), {
      howToSend: "send the tenant's API key as Authorization: Bearer",
      // Like the tenant itself, a key issued a moment ago may be in register's stream before it is in rewards' table.
      keyRing: () => this.tenants.keyRing(slug),
    });
    return tenant;
  }

  /** A member's own call: login's access token for this tenant says who they are. */
  async requirePerson(request: IncomingRequest, slug: string): Promise<{ tenant: TenantRecord; userId: string }> {
    const tenant = /^[a-z0-9-]{1,63}$/.test(slug) ? await this.tenants.bySlug(slug) : undefined;
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    const presented = bearerOf(request);
    const refused = (detail: string) => new ProblemError({ status: 401, type: 'unauthorized', title: 'Not signed in', detail });
    if (!presented) throw refused('send an access token from login as Authorization: Bearer');
    const claims = await this.tokens.verify(presented);
    if (!claims) throw refused('the access token is not valid or has expired');
    if (claims.tenantId !== tenant.tenantId)
      throw new ProblemError({
        status: 403,
        type: 'forbidden',
        title: 'Forbidden',
        detail: 'this access token was issued for another tenant',
      });
    return { tenant, userId: claims.userId };
  }
}

export function headerOf(request: IncomingRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bearerOf(request: IncomingRequest): string | undefined {
  const value = headerOf(request, 'authorization');
  return (value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null)?.[1];
}

/** The caller's request id when it sent one we can trust the shape of, else a fresh one. */
export function correlationIdOf(request: IncomingRequest): string {
  const value = headerOf(request, 'x-request-id');
  return value && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : randomUUID();
}
