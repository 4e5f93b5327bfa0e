import { Body, Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { bounded, parseBody, ProblemError } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { emailAddress } from '../register.schemas';
import { ErasureRequests } from './erasure-requests';

/**
 * Whom to erase: a register account or a tracked userId, an e-mail address (an account's, or a
 * tracked e-mail trait), a tracked anonymousId; any of them, at least one. Bounded as pulse bounds
 * the tracked identities, so anything pulse could have stored can be named.
 */
export const erasureRequestBody = z
  .object({
    userId: bounded.identifier().pipe(z.string().min(1)).optional(),
    email: emailAddress.optional(),
    anonymousId: bounded.identifier().pipe(z.string().min(1)).optional(),
  })
  .strict()
  .refine((body) => body.userId !== undefined || body.email !== undefined || body.anonymousId !== undefined, {
    message: 'name at least one of userId, email, anonymousId',
    path: ['userId'],
  });

const erasureId = z.object({ id: z.uuid({ message: 'must be an erasure id (UUID)' }) });

const erasureNotFound = () =>
  new ProblemError({
    status: 404,
    type: 'erasure-not-found',
    title: 'Erasure not found',
    detail: 'this tenant has no such erasure request',
  });

export function erasureLocation(slug: string, id: string): string {
  return `/t/${encodeURIComponent(slug)}/erasures/${id}`;
}

/**
 * The tenant's erasure requests (api key): `POST` asks for one (202, or 200 when the same people
 * were asked for already), `GET` says which services are done.
 */
@Controller('t/:tenant/erasures')
export class ErasureRequestsController {
  constructor(
    private readonly requests: ErasureRequests,
    private readonly access: TenantAccess,
  ) {}

  @Post()
  async request(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const tenant = await this.access.requireApiKey(request, slug);
    const target = parseBody(erasureRequestBody, body ?? {});
    const { id, created } = await this.requests.request(tenant, target, 'tenant', correlationIdOf(request));
    void reply.status(created ? 202 : 200).header('location', erasureLocation(tenant.slug, id));
    return (await this.requests.status(tenant.tenantId, id)) ?? { id };
  }

  @Get(':id')
  async status(@Param('tenant') slug: string, @Param('id') idParam: string, @Req() request: IncomingRequest) {
    const tenant = await this.access.requireApiKey(request, slug);
    const { id } = parseBody(erasureId, { id: idParam });
    const status = await this.requests.status(tenant.tenantId, id);
    if (!status) throw erasureNotFound();
    return status;
  }
}
