import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { z } from 'zod';
import type { CommandContext } from '#cqrs';
import { type AddressPolicy, destinationUrlProblem, dismissDeadLetter, endpointStats, listDeadLetters, retryDeadLetter } from '#outbound';
import { BOUNDS, bounded, parseBody, ProblemError } from '#platform';
import { encodeCursor, keyAfter, pageLimit } from '../read-models';
import { Clock } from '../rewards.ports';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import type { TenantRecord } from '../tenants/tenant-directory';
import type { WebhookState } from './webhook.decider';
import { WEBHOOK_EVENT_TYPES, type WebhookSettings } from './webhook.events';
import { MAX_WEBHOOKS_PER_TENANT } from './webhooks.handler';
import { RewardsWebhooks } from './webhooks.wiring';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DELIVERY_ID = /^\d{1,19}$/;

const endpointNotFound = () =>
  new ProblemError({
    status: 404,
    type: 'webhook-not-found',
    title: 'Unknown webhook endpoint',
    detail: 'no such endpoint in this tenant',
  });

const settingsShape = (policy: AddressPolicy) => ({
  url: z.string().superRefine((url, context) => {
    const problem = bounded.identifier(BOUNDS.urlLength).safeParse(url).error?.issues[0]?.message ?? destinationUrlProblem(url, policy);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  description: bounded.text(BOUNDS.nameLength).nullable(),
  enabled: z.boolean(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length).nullable(),
});

/** A new endpoint (url required, the rest defaulted) and the changes a PATCH makes (at least one), for URLs `policy` allows. */
export function webhookBodies(policy: AddressPolicy) {
  const shape = settingsShape(policy);
  return {
    create: z
      .object({
        ...shape,
        description: shape.description.default(null),
        enabled: shape.enabled.default(true),
        events: shape.events.default(null),
      })
      .strict(),
    change: z
      .object(shape)
      .partial()
      .strict()
      .refine((changes) => Object.keys(changes).length > 0, { message: 'must change at least one setting' }),
  };
}

export const rotationBody = z
  .object({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600),
  })
  .strict()
  .default({ graceSeconds: 24 * 3600 });

/** An endpoint as the API shows it: never a secret, only until when the rotated-out one still signs. */
function endpointView(id: string, state: WebhookState) {
  const previous = state.secrets.find((secret) => secret.validUntil !== null);
  return { id, ...state.settings!, createdAt: state.createdAt ?? null, previousSecretValidUntil: previous?.validUntil ?? null };
}

/**
 * A tenant's webhook endpoints for rewards events (points earned, spent, expired, adjusted and
 * clawed back, tier changes, redemptions), signed with Standard Webhooks, retried, dead-lettered.
 */
@Controller('t/:tenant/webhooks')
export class WebhooksController {
  private readonly bodies: ReturnType<typeof webhookBodies>;

  constructor(
    private readonly calls: TenantCalls,
    private readonly webhooks: RewardsWebhooks,
    private readonly clock: Clock,
  ) {
    this.bodies = webhookBodies(webhooks.outbound.policy);
  }

  @Post()
  @HttpCode(201)
  create(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const settings = parseBody(this.bodies.create, body) as WebhookSettings;
      const { handler } = this.webhooks;
      if ((await handler.count(tenant.tenantId)) >= MAX_WEBHOOKS_PER_TENANT)
        throw new ProblemError({
          status: 409,
          type: 'too-many-webhooks',
          title: 'Too many webhook endpoints',
          detail: `a tenant has at most ${MAX_WEBHOOKS_PER_TENANT}`,
        });
      const { endpointId, secret } = await handler.create(settings, this.context(request, tenant));
      // The only time the secret is shown.
      return { ...endpointView(endpointId, await handler.load(tenant.tenantId, endpointId)), secret };
    });
  }

  @Get()
  list(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    return this.calls.read(request, slug, async (tenant) => {
      const size = pageLimit(limit);
      const rows = await this.webhooks.handler.list(tenant.tenantId, keyAfter(cursor, ID), size);
      return {
        items: rows.map((row) => endpointView(row.id, row.state)),
        nextCursor: rows.length === size ? encodeCursor(rows[rows.length - 1]!.id) : null,
      };
    });
  }

  @Get(':id')
  get(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Param('id') id: string) {
    return this.calls.read(request, slug, async (tenant) => {
      const state = await this.endpoint(tenant, id);
      const stats = await endpointStats(this.webhooks.pool, tenant.tenantId, id);
      return { ...endpointView(id, state), stats: stats ?? null };
    });
  }

  @Patch(':id')
  change(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      const changes = parseBody(this.bodies.change, body) as Partial<WebhookSettings>;
      const outcome = await this.webhooks.handler.change(id, changes, this.context(request, tenant));
      if (!outcome.accepted) throw endpointNotFound();
      return endpointView(id, await this.webhooks.handler.load(tenant.tenantId, id));
    });
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Param('id') id: string): Promise<void> {
    return this.calls.write(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      const outcome = await this.webhooks.handler.delete(id, this.context(request, tenant));
      if (!outcome.accepted) throw endpointNotFound();
    });
  }

  /** A new secret signs from now on; the old one signs beside it for `graceSeconds` (default a day). */
  @Post(':id/secret-rotations')
  @HttpCode(201)
  rotate(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Param('id') id: string, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      const { graceSeconds } = parseBody(rotationBody, body ?? {});
      const { secret, outcome } = await this.webhooks.handler.rotateSecret(id, graceSeconds * 1000, this.context(request, tenant));
      if (!outcome.accepted) throw endpointNotFound();
      const state = await this.webhooks.handler.load(tenant.tenantId, id);
      return { secret, previousSecretValidUntil: endpointView(id, state).previousSecretValidUntil };
    });
  }

  @Get(':id/dead-letters')
  deadLetters(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Param('id') id: string,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      const page = await listDeadLetters(this.webhooks.pool, tenant.tenantId, id, keyAfter(cursor, DELIVERY_ID), pageLimit(limit));
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    });
  }

  /** Queued again with the same webhook-id, so a receiver that did get it after all drops it. */
  @Post(':id/dead-letters/:deliveryId/retry')
  @HttpCode(202)
  retry(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Param('id') id: string, @Param('deliveryId') deliveryId: string) {
    return this.calls.write(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      if (!DELIVERY_ID.test(deliveryId) || !(await retryDeadLetter(this.webhooks.pool, tenant.tenantId, id, deliveryId)))
        throw deadLetterNotFound();
      return { id: deliveryId, state: 'pending' };
    });
  }

  @Delete(':id/dead-letters/:deliveryId')
  @HttpCode(204)
  dismiss(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Param('id') id: string,
    @Param('deliveryId') deliveryId: string,
  ) {
    return this.calls.write(request, slug, async (tenant) => {
      await this.endpoint(tenant, id);
      if (!DELIVERY_ID.test(deliveryId) || !(await dismissDeadLetter(this.webhooks.pool, tenant.tenantId, id, deliveryId)))
        throw deadLetterNotFound();
    });
  }

  private async endpoint(tenant: TenantRecord, id: string): Promise<WebhookState> {
    if (!ID.test(id)) throw endpointNotFound();
    const state = await this.webhooks.handler.load(tenant.tenantId, id);
    if (state.status !== 'active') throw endpointNotFound();
    return state;
  }

  private context(request: IncomingRequest, tenant: TenantRecord): CommandContext {
    return { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now: this.clock.now() };
  }
}

const deadLetterNotFound = () =>
  new ProblemError({
    status: 404,
    type: 'dead-letter-not-found',
    title: 'Unknown dead letter',
    detail: 'no such dead letter for this endpoint',
  });
