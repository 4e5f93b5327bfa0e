import { Controller, Delete, HttpCode, Inject, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ProblemError, SERVICE_LOGGER } from '#platform';
import { ADMIN_TOKEN, requireAdmin } from '../admin-access';
import { LoginDirectory } from '../directory';
import { SecondFactors } from './second-factors';

/**
 * The way back in for a person who lost every second factor and every recovery code: an operator,
 * having checked who is asking by the tenant's own means, removes them. The reset is an event on
 * the person's factors stream (SecondFactorsReset, by admin) and a log line, so it is audited.
 */
@Controller('admin/tenants/:tenant/users/:userId/second-factors')
export class SecondFactorsAdminController {
  constructor(
    private readonly directory: LoginDirectory,
    private readonly factors: SecondFactors,
    @Inject(ADMIN_TOKEN) private readonly adminToken: string,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  @Delete()
  @HttpCode(204)
  async reset(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: FastifyRequest): Promise<void> {
    requireAdmin(request.headers, this.adminToken);
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    if (!(await this.directory.credentialById(tenant.tenantId, userId)))
      throw new ProblemError({
        status: 404,
        type: 'user-not-found',
        title: 'Unknown person',
        detail: 'no person with this id in this tenant',
      });
    const removed = await this.factors.reset(tenant.tenantId, userId);
    if (removed) this.logger.warn({ tenantId: tenant.tenantId, userId, requestId: request.id }, 'second factors reset by an operator');
  }
}
