import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, Param, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { parseBody } from '#platform';
import { requireApiKey } from '../profiles/profiles.http';
import { TenantKeys } from '../tenants/tenant-keys';
import { TrackingPurposesStore } from '../consent/tracking-purposes.http';
import { retentionBody, retentionDecider, retentionStreamFor, type RetentionPolicy } from './retention';

/** How long the tenant keeps its tracked events (see RetentionPolicy), with the tenant's API key. */
@Controller('t/:tenant/retention')
export class RetentionController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly store: TrackingPurposesStore,
  ) {}

  @Get()
  async read(@Req() request: FastifyRequest, @Param('tenant') slug: string): Promise<RetentionPolicy> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    return (await this.store.commands.load(retentionStreamFor(tenant.tenantId), retentionDecider)).state;
  }

  @Put()
  async set(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Body() body: unknown): Promise<RetentionPolicy> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    const policy = parseBody(retentionBody, body);
    const now = new Date();
    await this.store.commands.handle({
      streamName: retentionStreamFor(tenant.tenantId),
      decider: retentionDecider,
      command: { type: 'SetRetention', policy, now },
      context: { tenantId: tenant.tenantId, correlationId: request.id ?? randomUUID(), now },
      retriesOnConflict: 2,
    });
    return policy;
  }
}
