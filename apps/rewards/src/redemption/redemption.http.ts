import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { parseBody, ProblemError } from '#platform';
import { CatalogHandler } from '../catalog/catalog.handler';
import { rewardNotFound, UUID } from '../catalog/catalog.http';
import { encodeCursor, keyAfter, pageLimit, ReadModels } from '../read-models';
import { Clock } from '../rewards.ports';
import { idempotencyKeyOf, invalidParameter, isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from '../wallet/member.http';
import { WalletHandler } from '../wallet/wallet.handler';
import { REDEMPTION_STATUSES, type RedemptionState, type RedemptionStatus } from './redemption.decider';
import { RedemptionHandler, type RedemptionRefusal } from './redemption.handler';

export const redeemBody = z.object({ rewardId: z.string().regex(UUID, { message: 'must be a reward id' }) }).strict();

const REFUSALS: Record<Exclude<RedemptionRefusal, 'UnknownMember' | 'RewardNotFound'>, { status: number; type: string; title: string }> = {
  RewardInactive: { status: 409, type: 'reward-inactive', title: 'Reward deactivated' },
  TierRequired: { status: 409, type: 'tier-required', title: 'Reward reserved for other tiers' },
  OutOfCodes: { status: 409, type: 'out-of-codes', title: 'Reward out of voucher codes' },
  RewardNotYetValid: { status: 409, type: 'reward-not-yet-valid', title: 'Reward not yet available' },
  RewardExpired: { status: 410, type: 'reward-expired', title: 'Reward no longer available' },
  OutOfStock: { status: 409, type: 'out-of-stock', title: 'Reward out of stock' },
  MemberLimitReached: { status: 409, type: 'member-limit-reached', title: 'Member already holds as many as allowed' },
  InsufficientPoints: { status: 409, type: 'insufficient-points', title: 'Not enough points' },
  IdempotencyKeyReused: { status: 422, type: 'idempotency-key-reused', title: 'Idempotency-Key already used for another request' },
};

const redemptionNotFound = (id: string) =>
  new ProblemError({
    status: 404,
    type: 'redemption-not-found',
    title: 'Unknown redemption',
    detail: `no redemption ${id} in this tenant`,
  });

@Controller('t/:tenant')
export class RedemptionController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly redemptions: RedemptionHandler,
    private readonly catalog: CatalogHandler,
    private readonly wallets: WalletHandler,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly readModels: ReadModels,
  ) {}

  /** Same Idempotency-Key, same member and reward: the same redemption and the same answer. */
  @Post('members/:userId/redemptions')
  @HttpCode(201)
  redeem(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const key = idempotencyKeyOf(request, { required: true })!;
      const { rewardId } = parseBody(redeemBody, body);
      if (!isMemberId(userId)) throw unknownMember(userId);
      const now = this.clock.now();
      const outcome = await this.redemptions.redeem(
        { userId, rewardId, idempotencyKey: key },
        { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now },
      );
      if (outcome.ok) {
        // The caller's next list of redemptions shows this one.
        await this.readModels.caughtUpWith(outcome.position);
        return this.view(tenant.tenantId, outcome.redemption, outcome.code);
      }
      if (outcome.refusal === 'UnknownMember') throw unknownMember(userId);
      if (outcome.refusal === 'RewardNotFound') throw rewardNotFound(rewardId);
      const problem = REFUSALS[outcome.refusal];
      const tiers = outcome.refusal === 'TierRequired' ? outcome.detail?.requiredTiers : undefined;
      throw new ProblemError({
        ...problem,
        detail: Array.isArray(tiers)
          ? `reward ${rewardId} is reserved for members of the tiers ${tiers.join(', ')}`
          : `redemption of reward ${rewardId} refused: ${problem.title.toLowerCase()}`,
        extensions: outcome.detail ?? {},
      });
    });
  }

  @Get('redemptions')
  async list(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('status') status?: string,
    @Query('userId') userId?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      if (status !== undefined && !REDEMPTION_STATUSES.includes(status as RedemptionStatus))
        throw invalidParameter('status', `must be one of ${REDEMPTION_STATUSES.join(', ')}`);
      // Any id a wallet takes; isMemberId answers 400 for what no wallet could have.
      if (userId !== undefined) isMemberId(userId);
      const size = pageLimit(limit);
      const after = keyAfter(cursor, UUID);
      const rows: {
        redemption_id: string;
        user_id: string;
        reward_id: string;
        cost: number;
        status: string;
        reason: string | null;
        requested_at: Date;
        updated_at: Date;
      }[] = await this.dataSource.query(
        `SELECT * FROM rewards_redemptions WHERE tenant_id = $1 AND ($2::uuid IS NULL OR redemption_id > $2::uuid) AND ($3::text IS NULL OR status = $3)
           AND ($5::text IS NULL OR user_id = $5)
         ORDER BY redemption_id LIMIT $4`,
        [tenant.tenantId, after ?? null, status ?? null, size, userId ?? null],
      );
      return {
        items: rows.map((row) => ({
          id: row.redemption_id,
          userId: row.user_id || null,
          rewardId: row.reward_id,
          cost: row.cost,
          status: row.status,
          reason: row.reason,
          requestedAt: row.requested_at.toISOString(),
          updatedAt: row.updated_at.toISOString(),
        })),
        nextCursor: rows.length === size ? encodeCursor(rows[rows.length - 1]!.redemption_id) : null,
      };
    });
  }

  @Get('redemptions/:id')
  show(@Param('tenant') slug: string, @Param('id') id: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => this.view(tenant.tenantId, await this.existing(tenant.tenantId, id)));
  }

  @Post('redemptions/:id/fulfilment')
  @HttpCode(200)
  fulfil(@Param('tenant') slug: string, @Param('id') id: string, @Req() request: IncomingRequest) {
    return this.transition(slug, id, request, 'fulfil');
  }

  /** Gives the member's points and the stock unit back. */
  @Post('redemptions/:id/cancellation')
  @HttpCode(200)
  cancel(@Param('tenant') slug: string, @Param('id') id: string, @Req() request: IncomingRequest) {
    return this.transition(slug, id, request, 'cancel');
  }

  private transition(slug: string, id: string, request: IncomingRequest, action: 'fulfil' | 'cancel') {
    return this.calls.write(request, slug, async (tenant) => {
      await this.existing(tenant.tenantId, id);
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now: this.clock.now() };
      const outcome =
        action === 'fulfil'
          ? await this.redemptions.fulfil(tenant.tenantId, id, context)
          : await this.redemptions.cancel(tenant.tenantId, id, context);
      if (!outcome.accepted) {
        const rejection = outcome.rejection;
        if (rejection.kind !== 'InvalidTransition') throw redemptionNotFound(id);
        throw new ProblemError({
          status: 409,
          type: 'redemption-state-conflict',
          title: `Redemption cannot be ${action === 'fulfil' ? 'fulfilled' : 'cancelled'}`,
          detail: `the redemption is ${rejection.status}`,
          extensions: { status: rejection.status },
        });
      }
      await this.readModels.caughtUpWith(outcome.position);
      return this.view(tenant.tenantId, await this.redemptions.process(tenant.tenantId, id));
    });
  }

  private async existing(tenantId: string, id: string): Promise<RedemptionState> {
    const state = UUID.test(id) ? await this.redemptions.process(tenantId, id) : undefined;
    if (!state?.request) throw redemptionNotFound(id);
    return state;
  }

  /**
   * The voucher code, if the reward hands them out, read from the reward's stream where it was
   * handed out with the stock unit: shown with this one redemption, never in lists or logs. Once
   * the member is erased it is shredded in the store; a replica that folded the reward's stream
   * before still holds it in memory, so the wallet says whether it may still be shown.
   */
  private async view(tenantId: string, state: RedemptionState, handedOut?: string | null) {
    const { redemptionId, userId, rewardId, cost, requestedAt } = state.request!;
    // The request that reserved the unit knows its code; any other reads it from the reward.
    const issued = handedOut !== undefined ? handedOut : ((await this.catalog.reward(tenantId, rewardId)).issued.get(redemptionId) ?? null);
    const code = issued !== null && !(await this.wallets.state(tenantId, userId)).state.erased ? issued : null;
    return { id: redemptionId, userId, rewardId, cost, status: state.status, requestedAt, code };
  }
}
