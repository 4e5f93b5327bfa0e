import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '#platform';
import { authorizeApiKey } from '#tenant-keys';
import { TenantKeys, type PulseTenant } from '../tenants/tenant-keys';
import { ProfileReader } from './profile-reader';

const KINDS = new Set(['userId', 'anonymousId', 'email']);

/**
 * Reading needs the tenant's API key: write keys ship in web pages, so they only ever write. An
 * API key of another tenant gets 403, as in every service.
 */
export async function requireApiKey(tenants: TenantKeys, request: FastifyRequest, slug: string): Promise<PulseTenant> {
  const tenant = await tenants.bySlug(slug);
  if (!tenant)
    throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  await authorizeApiKey(tenants.keys, tenant.tenantId, presented, { howToSend: "send the tenant's API key as Authorization: Bearer" });
  return tenant;
}

@Controller('t/:tenant/profiles')
export class ProfilesController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly reader: ProfileReader,
  ) {}

  @Get(':kind/:value')
  async profile(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('kind') kind: string, @Param('value') value: string) {
    const tenant = await requireApiKey(this.tenants, request, slug);
    return this.reader.profile(tenant.tenantId, checkedKind(kind), value);
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
      throw new ProblemError({
        status: 400,
        type: 'validation-failed',
        title: 'Request validation failed',
        detail: 'limit must be an integer between 1 and 500',
      });
    }
    if (cursor !== undefined && !/^\d{1,19}$/.test(cursor)) {
      throw new ProblemError({
        status: 400,
        type: 'validation-failed',
        title: 'Request validation failed',
        detail: 'cursor is not one this API returned',
      });
    }
    return this.reader.events(tenant.tenantId, checkedKind(kind), value, cursor, size);
  }
}

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
