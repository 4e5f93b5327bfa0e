import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { BOUNDS, ProblemError, TenantConcurrencyLimiter, textProblem } from '#platform';
import { authorizeApiKey } from '#tenant-keys';
import { TenantKeys, type PulseTenant } from '../tenants/tenant-keys';
import { ProfileReader } from './profile-reader';

const KINDS = new Set(['userId', 'anonymousId', 'email']);

export const tenantNotFound = (slug: string) =>
  new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });

/** Profile reads one tenant may have in flight (a TenantConcurrencyLimiter). */
export const PROFILE_READS = Symbol('ProfileReadsPerTenant');

/**
 * Reading needs the tenant's API key: write keys ship in web pages, so they only ever write. An
 * API key of another tenant gets 403, as in every service.
 */
export async function requireApiKey(tenants: TenantKeys, request: FastifyRequest, slug: string): Promise<PulseTenant> {
  const tenant = await tenants.bySlug(slug);
  if (!tenant) throw tenantNotFound(slug);
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  await authorizeApiKey(tenants.keys, tenant.tenantId, presented, { howToSend: "send the tenant's API key as Authorization: Bearer" });
  return tenant;
}

@Controller('t/:tenant/profiles')
export class ProfilesController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly reader: ProfileReader,
    // A tenant reading in a loop holds its own slots, not the pool every tenant's reads wait on.
    @Inject(PROFILE_READS) private readonly reads: TenantConcurrencyLimiter,
  ) {}

  @Get(':kind/:value')
  async profile(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('kind') kind: string, @Param('value') value: string) {
    const tenant = await requireApiKey(this.tenants, request, slug);
    const identity = checkedKind(kind);
    checkValue(value);
    return this.reads.run(tenant.tenantId, () => this.reader.profile(tenant.tenantId, identity, value), 'profile reads');
  }

  @Get(':kind/:value/events')
  async events(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('kind') kind: string,
    @Param('value') value: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const tenant = await requireApiKey(this.tenants, request, slug);
    const size = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) {
      throw invalidRequest('limit must be an integer between 1 and 500');
    }
    if (cursor !== undefined && !/^\d{1,19}$/.test(cursor)) {
      throw invalidRequest('cursor is not one this API returned');
    }
    const identity = checkedKind(kind);
    checkValue(value);
    return this.reads.run(tenant.tenantId, () => this.reader.events(tenant.tenantId, identity, value, cursor, size), 'profile reads');
  }
}

/** An identity tracking refuses (a NUL, say) is no profile's, and PostgreSQL could not even compare it. */
function checkValue(value: string): void {
  const problem = textProblem(value, 'identifier', BOUNDS.identifierLength);
  if (problem) throw invalidRequest(`the identity ${problem}`);
}

const invalidRequest = (detail: string) =>
  new ProblemError({ status: 400, type: 'validation-failed', title: 'Request validation failed', detail });

function checkedKind(kind: string): 'userId' | 'anonymousId' | 'email' {
  if (!KINDS.has(kind)) {
    throw new ProblemError({
      status: 404,
      type: 'unknown-identity-kind',
      title: 'Unknown identity kind',
      detail: 'look profiles up by userId, anonymousId or email',
    });
  }
  return kind as 'userId' | 'anonymousId' | 'email';
}
