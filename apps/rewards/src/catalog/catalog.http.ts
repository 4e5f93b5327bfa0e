import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { bounded, EARLIEST_INSTANT, parseIsoInstant, parseBody, ProblemError, RequestValidationError } from '#platform';
import { encodeCursor, keyAfter, pageLimit, ReadModels } from '../read-models';
import { Clock } from '../rewards.ports';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { remainingStock } from './catalog.decider';
import { CatalogHandler } from './catalog.handler';

/**
 * The last instant a validity window may name. Validity is compared as ISO-8601 text, which orders
 * as time only while the year has four digits (`+010000-…` sorts before `2026-…`).
 */
const LATEST_VALIDITY = new Date('9999-12-31T23:59:59.999Z');

/** A validity bound: an ISO-8601 instant from 1970 to the end of year 9999, in UTC. */
const validityInstant = z.string().transform((value, context) => {
  const parsed = parseIsoInstant(value);
  const problem = !parsed
    ? 'must be an ISO-8601 date-time'
    : parsed < EARLIEST_INSTANT
      ? 'must not be before 1970'
      : parsed > LATEST_VALIDITY
        ? 'must not be after 9999-12-31T23:59:59.999Z'
        : undefined;
  if (problem || !parsed) {
    context.addIssue({ code: 'custom', message: problem ?? 'must be an ISO-8601 date-time' });
    return z.NEVER;
  }
  return parsed.toISOString();
});

export const createRewardBody = z
  .object({
    name: bounded.name(),
    cost: bounded.points(),
    stock: bounded.quantity(),
    perMemberLimit: bounded.quantity().min(1).nullable().default(null),
    validFrom: validityInstant.optional(),
    validUntil: validityInstant.nullable().default(null),
  })
  .strict();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const rewardNotFound = (rewardId: string) =>
  new ProblemError({
    status: 404,
    type: 'reward-not-found',
    title: 'Unknown reward',
    detail: `no reward ${rewardId} in this tenant's catalog`,
  });

interface CatalogRow {
  reward_id: string;
  name: string;
  cost: number;
  stock: number;
  held: number;
  per_member_limit: number | null;
  valid_from: Date;
  valid_until: Date | null;
  created_at: Date;
}

@Controller('t/:tenant/rewards')
export class CatalogController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly catalog: CatalogHandler,
    private readonly readModels: ReadModels,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  create(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const input = parseBody(createRewardBody, body);
      const now = this.clock.now();
      const terms = {
        name: input.name,
        cost: input.cost,
        stock: input.stock,
        perMemberLimit: input.perMemberLimit,
        validFrom: input.validFrom ?? now.toISOString(),
        validUntil: input.validUntil,
      };
      const { rewardId, outcome } = await this.catalog.create(terms, {
        tenantId: tenant.tenantId,
        correlationId: correlationIdOf(request),
        now,
      });
      if (!outcome.accepted)
        throw new RequestValidationError(
          outcome.rejection.kind === 'InvalidTerms'
            ? outcome.rejection.errors
            : [{ pointer: '/validUntil', message: 'must be after validFrom' }],
        );
      // The admin list is a read model: answer once it shows the new reward.
      await this.readModels.caughtUpWith(outcome.position);
      return { id: rewardId, ...terms, remaining: terms.stock, createdAt: now.toISOString() };
    });
  }

  @Get()
  async list(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      const size = pageLimit(limit);
      const after = keyAfter(cursor, UUID);
      const rows: CatalogRow[] = await this.dataSource.query(
        `SELECT * FROM rewards_catalog WHERE tenant_id = $1 AND ($2::uuid IS NULL OR reward_id > $2::uuid) ORDER BY reward_id LIMIT $3`,
        [tenant.tenantId, after ?? null, size],
      );
      return {
        items: rows.map((row) => ({
          id: row.reward_id,
          name: row.name,
          cost: row.cost,
          stock: row.stock,
          remaining: row.stock - row.held,
          perMemberLimit: row.per_member_limit,
          validFrom: row.valid_from.toISOString(),
          validUntil: row.valid_until?.toISOString() ?? null,
          createdAt: row.created_at.toISOString(),
        })),
        nextCursor: rows.length === size ? encodeCursor(rows[rows.length - 1]!.reward_id) : null,
      };
    });
  }

  /** From the reward's stream, so the remaining stock is exact rather than as of the last projection. */
  @Get(':rewardId')
  show(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => {
      if (!UUID.test(rewardId)) throw rewardNotFound(rewardId);
      const state = await this.catalog.reward(tenant.tenantId, rewardId);
      if (!state.terms) throw rewardNotFound(rewardId);
      const { rewardId: id, ...terms } = state.terms;
      return { id, ...terms, remaining: remainingStock(state) };
    });
  }
}

export { UUID };
