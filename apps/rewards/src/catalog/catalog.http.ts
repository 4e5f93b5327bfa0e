import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { CommandOutcome } from '#cqrs';
import { BOUNDS, parseBody, ProblemError, RequestValidationError, textProblem } from '#platform';
import { ProgramHandler } from '../program/program.handler';
import { encodeCursor, keyAfter, pageLimit, ReadModels } from '../read-models';
import { Clock } from '../rewards.ports';
import { idempotencyKeyOf, invalidParameter } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import type { CatalogEvent } from './catalog.events';
import { CatalogHandler } from './catalog.handler';
import { codesLeft, remainingStock, type CatalogRejection, type RewardState } from './catalog.rules';
import { createRewardBody, importCodesBody, restockBody, updateRewardBody } from './catalog.schemas';

export { createRewardBody };

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
  category: string | null;
  active: boolean;
  tiers: string[] | null;
  voucher_kind: string | null;
}

@Controller('t/:tenant/rewards')
export class CatalogController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly catalog: CatalogHandler,
    private readonly programs: ProgramHandler,
    private readonly readModels: ReadModels,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  create(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const input = parseBody(createRewardBody, body);
      await this.checkTiers(tenant.tenantId, input.tiers);
      const now = this.clock.now();
      const { voucher, ...rest } = input;
      const terms = {
        ...rest,
        validFrom: input.validFrom ?? now.toISOString(),
        voucher: voucher === null ? null : voucher.kind === 'generated' ? voucher : { kind: 'imported' as const },
      };
      const codes = voucher?.kind === 'imported' ? (voucher.codes ?? []) : [];
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now };
      const { rewardId, outcome } = await this.catalog.create(terms, context, codes);
      if (!outcome.accepted) throw refused(outcome.rejection, rewardId);
      // The admin list is a read model: answer once it shows the new reward.
      await this.readModels.caughtUpWith(outcome.position);
      return view(await this.catalog.reward(tenant.tenantId, rewardId));
    });
  }

  /** The catalog, optionally one category of it. */
  @Get()
  async list(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('category') category?: string,
  ) {
    return this.calls.read(request, slug, (tenant) => this.page(tenant.tenantId, cursor, limit, category));
  }

  /**
   * The rewards a member can redeem at `at` (active, within their dates), chosen in the query: a
   * page holds `limit` of them whenever there are that many, however many others lie between.
   */
  redeemable(slug: string, request: IncomingRequest, at: Date, cursor?: string, limit?: string, category?: string) {
    return this.calls.read(request, slug, (tenant) => this.page(tenant.tenantId, cursor, limit, category, at));
  }

  private async page(
    tenantId: string,
    cursor: string | undefined,
    limit: string | undefined,
    category: string | undefined,
    redeemableAt?: Date,
  ) {
    if (category !== undefined) {
      const problem = typeof category === 'string' ? textProblem(category, 'identifier', BOUNDS.nameLength) : 'must be given once';
      if (problem) throw invalidParameter('category', problem);
    }
    const size = pageLimit(limit);
    const after = keyAfter(cursor, UUID);
    const rows: CatalogRow[] = await this.dataSource.query(
      `SELECT * FROM rewards_catalog WHERE tenant_id = $1 AND ($2::uuid IS NULL OR reward_id > $2::uuid) AND ($3::text IS NULL OR category = $3)
         AND ($5::timestamptz IS NULL OR (active AND valid_from <= $5 AND (valid_until IS NULL OR valid_until > $5)))
       ORDER BY reward_id LIMIT $4`,
      [tenantId, after ?? null, category ?? null, size, redeemableAt ?? null],
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
        category: row.category,
        tiers: row.tiers,
        active: row.active,
        voucher: row.voucher_kind === null ? null : { kind: row.voucher_kind },
        createdAt: row.created_at.toISOString(),
      })),
      nextCursor: rows.length === size ? encodeCursor(rows[rows.length - 1]!.reward_id) : null,
    };
  }

  /** From the reward's stream, so the remaining stock is exact rather than as of the last projection. */
  @Get(':rewardId')
  show(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => view(await this.existing(tenant.tenantId, rewardId)));
  }

  /** Changes the terms sent and keeps the others; redemptions made under the old terms keep theirs. */
  @Patch(':rewardId')
  update(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.change(request, slug, rewardId, async (tenantId, context) => {
      const changes = parseBody(updateRewardBody, body);
      await this.checkTiers(tenantId, changes.tiers);
      return this.catalog.update(tenantId, rewardId, changes, context);
    });
  }

  /** Adds units to the stock, in turn with redemptions on the reward's stream; an Idempotency-Key makes a retry add once. */
  @Post(':rewardId/restocks')
  @HttpCode(201)
  restock(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.change(request, slug, rewardId, (tenantId, context) => {
      const key = idempotencyKeyOf(request, { required: false });
      return this.catalog.restock(tenantId, rewardId, parseBody(restockBody, body).units, key, context);
    });
  }

  @Post(':rewardId/deactivation')
  @HttpCode(200)
  deactivate(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest) {
    return this.change(request, slug, rewardId, (tenantId, context) => this.catalog.setActive(tenantId, rewardId, false, context));
  }

  @Post(':rewardId/reactivation')
  @HttpCode(200)
  reactivate(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest) {
    return this.change(request, slug, rewardId, (tenantId, context) => this.catalog.setActive(tenantId, rewardId, true, context));
  }

  /** Adds the tenant's own codes to a reward that hands out imported codes; the answer counts them, never shows them. */
  @Post(':rewardId/codes')
  @HttpCode(201)
  importCodes(@Param('tenant') slug: string, @Param('rewardId') rewardId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.change(request, slug, rewardId, (tenantId, context) => {
      const key = idempotencyKeyOf(request, { required: false });
      return this.catalog.importCodes(tenantId, rewardId, parseBody(importCodesBody, body).codes, key, context);
    });
  }

  /** Input is checked before the reward is looked up, so a bad body and an unknown reward change nothing alike. */
  private change(
    request: IncomingRequest,
    slug: string,
    rewardId: string,
    work: (
      tenantId: string,
      context: { tenantId: string; correlationId: string; now: Date },
    ) => Promise<CommandOutcome<CatalogEvent, CatalogRejection>>,
  ) {
    return this.calls.write(request, slug, async (tenant) => {
      if (!UUID.test(rewardId)) throw rewardNotFound(rewardId);
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now: this.clock.now() };
      const outcome = await work(tenant.tenantId, context);
      if (!outcome.accepted) throw refused(outcome.rejection, rewardId);
      await this.readModels.caughtUpWith(outcome.position);
      return view(await this.catalog.reward(tenant.tenantId, rewardId));
    });
  }

  /**
   * A reward reserved for tiers the program does not have would be for nobody: a typo is refused
   * here. (The program may change its tiers later; the reward then waits for a member of them.)
   */
  private async checkTiers(tenantId: string, tiers: readonly string[] | null | undefined): Promise<void> {
    if (!tiers) return;
    const levels = (await this.programs.current(tenantId)).program?.tiers?.levels;
    if (!levels) throw new RequestValidationError([{ pointer: '/tiers', message: 'the program has no tiers' }]);
    const errors = tiers.flatMap((tier, index) =>
      levels.some((level) => level.name === tier) ? [] : [{ pointer: `/tiers/${index}`, message: 'is not a tier of the program' }],
    );
    if (errors.length > 0) throw new RequestValidationError(errors);
  }

  private async existing(tenantId: string, rewardId: string): Promise<RewardState> {
    const state = UUID.test(rewardId) ? await this.catalog.reward(tenantId, rewardId) : undefined;
    if (!state?.terms) throw rewardNotFound(rewardId);
    return state;
  }
}

/** A reward as the admin sees it; its codes are never shown, only how many are left. */
function view(state: RewardState) {
  const { rewardId: id, voucher, ...terms } = state.terms!;
  return {
    id,
    ...terms,
    active: state.active,
    createdAt: state.createdAt,
    remaining: remainingStock(state),
    voucher: voucher === null ? null : { ...voucher, codesLeft: codesLeft(state) },
  };
}

function refused(rejection: CatalogRejection, rewardId: string): ProblemError {
  switch (rejection.kind) {
    case 'InvalidTerms':
      return new RequestValidationError(rejection.errors);
    case 'InvalidValidity':
      return new RequestValidationError([{ pointer: '/validUntil', message: 'must be after validFrom' }]);
    case 'NotImportingCodes':
      return new ProblemError({
        status: 409,
        type: 'reward-not-importing-codes',
        title: 'Reward takes no imported codes',
        detail: `reward ${rewardId} does not hand out imported codes (its voucher kind is set when it is created)`,
      });
    default:
      return rewardNotFound(rewardId);
  }
}

export { UUID };
