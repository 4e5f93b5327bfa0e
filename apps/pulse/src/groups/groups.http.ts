import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { BOUNDS, ProblemError, TenantConcurrencyLimiter, textProblem } from '#platform';
import { TenantKeys } from '../tenants/tenant-keys';
import { PROFILE_READS, requireApiKey } from '../profiles/profiles.http';
import { GroupReader } from './group-reader';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalidRequest = (detail: string) =>
  new ProblemError({ status: 400, type: 'validation-failed', title: 'Request validation failed', detail });

/** Account profiles built from `group` calls; read with the tenant's API key, in the same per-tenant read slots as people's profiles. */
@Controller('t/:tenant/groups')
export class GroupsController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly reader: GroupReader,
    @Inject(PROFILE_READS) private readonly reads: TenantConcurrencyLimiter,
  ) {}

  @Get(':groupId')
  async group(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('groupId') groupId: string) {
    const tenant = await requireApiKey(this.tenants, request, slug);
    checkGroupId(groupId);
    return this.reads.run(tenant.tenantId, () => this.reader.group(tenant.tenantId, groupId), 'profile reads');
  }

  @Get(':groupId/members')
  async members(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Param('groupId') groupId: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const tenant = await requireApiKey(this.tenants, request, slug);
    checkGroupId(groupId);
    const size = limit === undefined ? 50 : Number(limit);
    if (!Number.isInteger(size) || size < 1 || size > 500) throw invalidRequest('limit must be an integer between 1 and 500');
    if (cursor !== undefined && !UUID.test(cursor)) throw invalidRequest('cursor is not one this API returned');
    return this.reads.run(tenant.tenantId, () => this.reader.members(tenant.tenantId, groupId, cursor, size), 'profile reads');
  }
}

/** A groupId tracking would refuse (a NUL, too long) names no group, and PostgreSQL could not compare it. */
function checkGroupId(groupId: string): void {
  const problem = textProblem(groupId, 'identifier', BOUNDS.identifierLength);
  if (problem) throw invalidRequest(`the groupId ${problem}`);
}
