import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, Param, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { CommandRunner } from '#cqrs';
import { parseBody } from '#platform';
import { requireApiKey } from '../profiles/profiles.http';
import { TenantKeys } from '../tenants/tenant-keys';
import { ConsentGate } from './consent-gate';
import { trackingPurposesBody, trackingPurposesDecider, trackingPurposesStreamFor, type TrackingPurposes } from './tracking-purposes';

/** The port through which purposes are read and set: the service's command runner. */
export class TrackingPurposesStore {
  constructor(readonly commands: CommandRunner) {}
}

/** Which consent purpose the tenant's tracked messages serve (see TrackingPurposes), with the tenant's API key. */
@Controller('t/:tenant/tracking-purposes')
export class TrackingPurposesController {
  constructor(
    private readonly tenants: TenantKeys,
    private readonly store: TrackingPurposesStore,
    private readonly gate: ConsentGate,
  ) {}

  @Get()
  async read(@Req() request: FastifyRequest, @Param('tenant') slug: string): Promise<TrackingPurposes> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    return (await this.store.commands.load(trackingPurposesStreamFor(tenant.tenantId), trackingPurposesDecider)).state;
  }

  @Put()
  async set(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Body() body: unknown): Promise<TrackingPurposes> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    const purposes = parseBody(trackingPurposesBody, body);
    const now = new Date();
    await this.store.commands.handle({
      streamName: trackingPurposesStreamFor(tenant.tenantId),
      decider: trackingPurposesDecider,
      command: { type: 'SetTrackingPurposes', purposes, now },
      context: { tenantId: tenant.tenantId, correlationId: request.id ?? randomUUID(), now },
      retriesOnConflict: 2,
    });
    this.gate.forget(tenant.tenantId);
    return purposes;
  }
}
