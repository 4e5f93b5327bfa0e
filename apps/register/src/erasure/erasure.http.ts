import { Controller, Delete, Get, HttpCode, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CommandRunner } from '#cqrs';
import { parseBody } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { accountExportOf } from '../exports/register-section';
import { accountNotFound } from '../profile/profile.http';
import { ReadModels } from '../read-models';
import { EraseUser, EraseUserHandler } from './erasure.handler';
import { ErasureRequests } from './erasure-requests';
import { erasureLocation } from './erasure-requests.http';

@Controller('t/:tenant')
export class ErasureController {
  constructor(
    private readonly erasures: EraseUserHandler,
    private readonly access: TenantAccess,
    private readonly runner: CommandRunner,
    private readonly readModels: ReadModels,
    private readonly requests: ErasureRequests,
  ) {}

  /**
   * GDPR access and portability, at once: what register holds about the caller, from its source.
   * The whole export, from every service, is `POST /me/exports` (see exports/).
   */
  @Get('me/export')
  async export(@Param('tenant') slug: string, @Req() request: IncomingRequest) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const found = await accountExportOf(this.runner, tenant.tenantId, userId);
    if (!found) throw accountNotFound();
    return { exportedAt: new Date().toISOString(), tenant: { slug: tenant.slug, name: tenant.name }, ...found };
  }

  @Delete('me')
  @HttpCode(204)
  async eraseSelf(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const outcome = await this.erasures.execute(new EraseUser(tenant, userId, 'user', correlationIdOf(request)));
    if (!outcome.erased) throw accountNotFound();
    // Register's part is done here; the request carries the erasure to login, pulse and rewards and tracks their completion.
    const { id } = await this.requests.request(tenant, { userId }, 'user', correlationIdOf(request));
    void reply.header('location', erasureLocation(tenant.slug, id));
    // Read-your-writes, as for every other command: once answered, the profile is gone from reads too.
    await this.readModels.caughtUpWith(outcome.position);
  }

  @Delete('users/:id')
  @HttpCode(204)
  async eraseByTenant(
    @Param('tenant') slug: string,
    @Param('id') idParam: string,
    @Req() request: IncomingRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const tenant = await this.access.requireApiKey(request, slug);
    const { id } = parseBody(z.object({ id: z.uuid({ message: 'must be a user id (UUID)' }) }), { id: idParam });
    const outcome = await this.erasures.execute(new EraseUser(tenant, id, 'tenant', correlationIdOf(request)));
    if (!outcome.erased) throw accountNotFound();
    const erasure = await this.requests.request(tenant, { userId: id }, 'tenant', correlationIdOf(request));
    void reply.header('location', erasureLocation(tenant.slug, erasure.id));
    await this.readModels.caughtUpWith(outcome.position);
  }
}
