import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { parseBody, ProblemError, RequestValidationError } from '#platform';
import { decodeCursor, encodeCursor, pageLimit, ReadModels } from '../read-models';
import { Clock } from '../rewards.ports';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../tenants/tenant-access';
import { remainingStock } from './catalog.decider';
import { CatalogHandler } from './catalog.handler';

export const createRewardBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    cost: z.number().int().positive().max(1_000_000_000),
    stock: z.number().int().min(0).max(10_000_000),
    perMemberLimit: z.number().int().positive().max(1_000_000).nullable().default(null),
    validFrom: z.iso.datetime({ offset: true }).optional(),
    validUntil: z.iso.datetime({ offset: true }).nullable().default(null),
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
    private readonly access: TenantAccess,
    private readonly catalog: CatalogHandler,
    private readonly readModels: ReadModels,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  async create(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    const tenant = await this.access.requireApiKey(request, slug);
    const input = parseBody(createRewardBody, body);
    const now = this.clock.now();
    const terms = {
      name: input.name,
      cost: input.cost,
      stock: input.stock,
      perMemberLimit: input.perMemberLimit,
      validFrom: new Date(input.validFrom ?? now).toISOString(),
      validUntil: input.validUntil === null ? null : new Date(input.validUntil).toISOString(),
    };
    const { rewardId, outcome } = await this.catalog.create(terms, {
      tenantId: tenant.tenantId,
      correlationId: correlationIdOf(request),
      now,
    });
    if (!outcome.accepted) throw new RequestValidationError([{ pointer: '/validUntil', message: 'must be after validFrom' }]);
    // The admin list is a read model: answer once it shows the new reward.
    await this.readModels.caughtUpWith(outcome.position);
    return { id: rewardId, ...terms, remaining: terms.stock, createdAt: now.toISOString() };
  }

  @Get()
  async list(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    const tenant = await this.access.requireApiKey(request, slug);
    const size = pageLimit(limit);
    const after = decodeCursor(cursor);
    if (after !== undefined && !UUID.test(after))
      throw new ProblemError({
        status: 400,
        type: 'invalid-cursor',
        title: 'Invalid cursor',
        detail: 'use the nextCursor of a previous page',
      });
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
  }

  /** From the reward's stream, so the remaining stock is exact rather than as of the last projection. */
  @Get(':rewardId')
  async show(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest) {
    const tenant = await this.access.requireApiKey(request, slug);
    if (!UUID.test(rewardId)) throw rewardNotFound(rewardId);
    const state = await this.catalog.reward(tenant.tenantId, rewardId);
    if (!state.terms) throw rewardNotFound(rewardId);
    const { rewardId: id, ...terms } = state.terms;
    return { id, ...terms, remaining: remainingStock(state) };
  }
}

export { UUID };
