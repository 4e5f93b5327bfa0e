import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseBody, ProblemError, SERVICE_LOGGER } from '#platform';
import { ADMIN_TOKEN, requireAdmin } from '../admin-access';
import { LoginDirectory, type LoginTenant } from '../directory';
import { SecondFactorPolicies } from './policy';
import { SecondFactors } from './second-factors';

export const secondFactorPolicyBody = z
  .object({
    mode: z.enum(['off', 'optional', 'required']),
    requiredForClients: z
      .array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be a client id' }))
      .max(100)
      .default([]),
  })
  .strict();

/**
 * A tenant's second-factor policy (see SecondFactorPolicy), and the way back in for a person who
 * lost every second factor and every recovery code: an operator,
 * having checked who is asking by the tenant's own means, removes them. The reset is an event on
 * the person's factors stream (SecondFactorsReset, by admin) and a log line, so it is audited.
 */
@Controller('admin/tenants/:tenant')
export class SecondFactorsAdminController {
  constructor(
    private readonly directory: LoginDirectory,
    private readonly factors: SecondFactors,
    private readonly policies: SecondFactorPolicies,
    @Inject(ADMIN_TOKEN) private readonly adminToken: string,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  @Get('second-factor-policy')
  async policy(@Param('tenant') slug: string, @Req() request: FastifyRequest) {
    requireAdmin(request.headers, this.adminToken);
    return this.policies.of((await this.tenant(slug)).tenantId);
  }

  @Put('second-factor-policy')
  async setPolicy(@Param('tenant') slug: string, @Req() request: FastifyRequest, @Body() body: unknown) {
    requireAdmin(request.headers, this.adminToken);
    const tenant = await this.tenant(slug);
    const policy = parseBody(secondFactorPolicyBody, body);
    await this.policies.set(tenant.tenantId, policy);
    return this.policies.of(tenant.tenantId);
  }

  @Delete('users/:userId/second-factors')
  @HttpCode(204)
  async reset(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: FastifyRequest): Promise<void> {
    requireAdmin(request.headers, this.adminToken);
    const tenant = await this.tenant(slug);
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

  private async tenant(slug: string): Promise<LoginTenant> {
    const tenant = await this.directory.tenantBySlug(slug);
    if (!tenant)
      throw new ProblemError({ status: 404, type: 'tenant-not-found', title: 'Unknown tenant', detail: `no tenant with slug ${slug}` });
    return tenant;
  }
}
