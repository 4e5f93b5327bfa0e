import { randomUUID } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import type { CommandContext } from '#cqrs';
import type { EventStore } from '#eventstore';
import { endpointStats, type AddressPolicy, type SecretBox, type WebhookSender } from '#outbound';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { z } from 'zod';
import { requireApiKey } from '../profiles/profiles.http';
import type { TenantKeys } from '../tenants/tenant-keys';
import type { DestinationState } from './destination.decider';
import { parseDestinationChanges, parseNewDestination } from './destination-input';
import { DestinationsHandler, MAX_DESTINATIONS_PER_TENANT } from './destinations.handler';
import { sendTestDelivery } from './test-delivery';

/** What the destination routes use, built once per process (see PulseModule). */
export class DestinationServices {
  constructor(
    readonly tenants: TenantKeys,
    readonly handler: DestinationsHandler,
    readonly sender: WebhookSender,
    readonly box: SecretBox,
    readonly policy: AddressPolicy,
    readonly pool: Pool,
    readonly store: EventStore,
  ) {}

  /** The caller's tenant (its API key) and a destination of it that exists. */
  async destination(request: FastifyRequest, slug: string, id: string): Promise<{ context: CommandContext; state: DestinationState }> {
    const context = await this.context(request, slug);
    if (!ID.test(id)) throw destinationNotFound(id);
    const state = await this.handler.load(context.tenantId, id);
    if (state.status !== 'active') throw destinationNotFound(id);
    return { context, state };
  }

  async context(request: FastifyRequest, slug: string): Promise<CommandContext> {
    const tenant = await requireApiKey(this.tenants, request, slug);
    const requestId = request.headers['x-request-id'];
    const correlationId = typeof requestId === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(requestId) ? requestId : randomUUID();
    return { tenantId: tenant.tenantId, correlationId, now: new Date() };
  }
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const destinationNotFound = (id: string) =>
  new ProblemError({
    status: 404,
    type: 'destination-not-found',
    title: 'Unknown destination',
    detail: ID.test(id) ? `no destination ${id} in this tenant` : 'no such destination in this tenant',
  });

const rotationBody = z
  .object({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(24 * 3600),
  })
  .strict()
  .default({ graceSeconds: 24 * 3600 });

/** The page size asked for (50 by default, at most 200), once the cursor is known to be one this API hands out. */
export function pageParameters(limit: string | undefined, cursor: string | undefined, cursorPattern: RegExp): number {
  const size = limit === undefined ? 50 : Number(limit);
  if (!Number.isInteger(size) || size < 1 || size > 200) {
    throw new RequestValidationError([{ pointer: '/limit', message: 'must be an integer between 1 and 200' }]);
  }
  if (cursor !== undefined && !cursorPattern.test(cursor)) {
    throw new RequestValidationError([{ pointer: '/cursor', message: 'is not one this API returned' }]);
  }
  return size;
}

/** A destination as the API shows it: never a secret, only when the rotated-out one stops signing. */
export function destinationView(id: string, state: DestinationState) {
  const previous = state.secrets.find((secret) => secret.validUntil !== null);
  return {
    id,
    ...state.settings!,
    createdAt: state.createdAt ?? null,
    previousSecretValidUntil: previous?.validUntil ?? null,
  };
}

/** Webhook destinations of a tenant (its API key): settings as events on the destination's stream. */
@Controller('t/:tenant/destinations')
export class DestinationsController {
  constructor(private readonly services: DestinationServices) {}

  @Post()
  @HttpCode(201)
  async create(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Body() body: unknown) {
    const context = await this.services.context(request, slug);
    const settings = parseNewDestination(body, this.services.policy);
    if ((await this.services.handler.count(context.tenantId)) >= MAX_DESTINATIONS_PER_TENANT) {
      throw new ProblemError({
        status: 409,
        type: 'too-many-destinations',
        title: 'Too many destinations',
        detail: `a tenant has at most ${MAX_DESTINATIONS_PER_TENANT} destinations`,
      });
    }
    const { destinationId, secret, outcome } = await this.services.handler.create(settings, context);
    if (!outcome.accepted) throw new ProblemError({ status: 409, type: 'destination-exists', title: 'Destination exists' });
    const state = await this.services.handler.load(context.tenantId, destinationId);
    // The only time the secret is shown.
    return { ...destinationView(destinationId, state), secret };
  }

  @Get()
  async list(
    @Req() request: FastifyRequest,
    @Param('tenant') slug: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const context = await this.services.context(request, slug);
    const size = pageParameters(limit, cursor, ID);
    const rows = await this.services.handler.list(context.tenantId, cursor, size);
    return {
      items: rows.map((row) => destinationView(row.id, row.state)),
      nextCursor: rows.length === size ? rows[rows.length - 1]!.id : null,
    };
  }

  @Get(':id')
  async get(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string) {
    const { context, state } = await this.services.destination(request, slug, id);
    const stats = await endpointStats(this.services.pool, context.tenantId, id);
    return { ...destinationView(id, state), stats: stats ?? null };
  }

  @Patch(':id')
  async change(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string, @Body() body: unknown) {
    const { context } = await this.services.destination(request, slug, id);
    const changes = parseDestinationChanges(body, this.services.policy);
    const outcome = await this.services.handler.change(id, changes, context);
    if (!outcome.accepted) throw destinationNotFound(id);
    return destinationView(id, await this.services.handler.load(context.tenantId, id));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string): Promise<void> {
    const { context } = await this.services.destination(request, slug, id);
    const outcome = await this.services.handler.delete(id, context);
    if (!outcome.accepted) throw destinationNotFound(id);
  }

  /** A new secret signs from now on; the old one signs beside it for `graceSeconds` (default a day). */
  @Post(':id/secret-rotations')
  @HttpCode(201)
  async rotate(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string, @Body() body: unknown) {
    const { context } = await this.services.destination(request, slug, id);
    const { graceSeconds } = parseBody(rotationBody, body ?? {});
    const { secret, outcome } = await this.services.handler.rotateSecret(id, graceSeconds * 1000, context);
    if (!outcome.accepted) throw destinationNotFound(id);
    const state = await this.services.handler.load(context.tenantId, id);
    return { secret, previousSecretValidUntil: destinationView(id, state).previousSecretValidUntil };
  }

  @Post(':id/test')
  @HttpCode(200)
  async test(@Req() request: FastifyRequest, @Param('tenant') slug: string, @Param('id') id: string) {
    const { context, state } = await this.services.destination(request, slug, id);
    return sendTestDelivery(this.services.sender, this.services.box, state, context.now);
  }
}
