import { createHash, randomUUID } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { z } from 'zod';
import { EventCodec } from '#cqrs';
import { bounded, parseBody, ProblemError } from '#platform';
import { ProgramHandler } from '../program/program.handler';
import { qualifyingTier, tierRank } from '../program/program.rules';
import { pageLimit } from '../read-models';
import { Clock } from '../rewards.ports';
import { walletStreamFor } from '../rewards.streams';
import { addMonths } from '../shared/calendar';
import { EventStoreRef } from '../shared/event-store-ref';
import { idempotencyKeyOf, isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import type { WalletRejection } from './wallet.decider';
import type { WalletEvent } from './wallet.events';
import { WalletHandler } from './wallet.handler';
import { availablePoints, earnedSince, spendableLots } from './wallet.state';

export const adjustmentBody = z
  .object({
    points: bounded.signedPoints(),
    reason: bounded.text().trim().min(1),
    actor: bounded.name(128),
  })
  .strict();

export const unknownMember = (userId: string) =>
  new ProblemError({ status: 404, type: 'member-not-found', title: 'Unknown member', detail: `no member ${userId} in this tenant` });

@Controller('t/:tenant/members/:userId')
export class MemberController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly programs: ProgramHandler,
    private readonly store: EventStoreRef,
    private readonly codec: EventCodec,
    private readonly clock: Clock,
  ) {}

  /** Balance, tier and lots folded from the wallet stream, so they include the caller's last write. */
  @Get()
  show(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest) {
    return this.calls.read(request, slug, async (tenant) => {
      const { state } = await this.member(tenant.tenantId, userId);
      const now = this.clock.now();
      const { program } = await this.programs.current(tenant.tenantId);
      const tiers = program?.tiers;
      const earned = tiers ? earnedSince(state, addMonths(now, -tiers.periodMonths)) : 0;
      const next = tiers?.levels[tierRank(tiers.levels, state.tier) + 1];
      return {
        userId,
        balance: availablePoints(state, now),
        // Taken back by refunds beyond what the wallet held (where the program allows it): the next points pay it.
        owed: state.owed,
        tier: state.tier,
        tierReviewAt: state.tierReviewAt,
        lots: spendableLots(state, now).map(({ lotId, remaining, earnedAt, expiresAt }) => ({
          lotId,
          points: remaining,
          earnedAt,
          expiresAt,
        })),
        progress: tiers
          ? {
              periodMonths: tiers.periodMonths,
              pointsInPeriod: earned,
              qualifiesFor: qualifyingTier(tiers.levels, earned)?.name ?? null,
              nextTier: next ? { name: next.name, threshold: next.threshold, pointsNeeded: Math.max(0, next.threshold - earned) } : null,
            }
          : null,
      };
    });
  }

  /** The wallet's history, oldest first; the cursor is the next stream revision. */
  @Get('transactions')
  async transactions(
    @Param('tenant') slug: string,
    @Param('userId') userId: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      await this.member(tenant.tenantId, userId);
      if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) {
        throw new ProblemError({
          status: 400,
          type: 'invalid-cursor',
          title: 'Invalid cursor',
          detail: 'use the nextCursor of a previous page',
        });
      }
      const size = pageLimit(limit);
      const recorded = await this.store.readStream(walletStreamFor(tenant.tenantId, userId), {
        fromRevision: BigInt(cursor ?? 0),
        maxCount: size,
      });
      const items = [];
      for (const event of recorded) {
        if (!this.codec.understands(event)) continue;
        const envelope = await this.codec.decode<WalletEvent>(event);
        items.push({ id: envelope.id, type: envelope.event.type, at: envelope.metadata.occurredAt, ...envelope.event.data });
      }
      return { items, nextCursor: recorded.length === size ? String(recorded[recorded.length - 1]!.revision + 1n) : null };
    });
  }

  /**
   * An operator's correction. With an Idempotency-Key a retry counts once and gets the first answer
   * again; the same key with another body is refused (422), never answered as if it had been applied.
   */
  @Post('adjustments')
  @HttpCode(201)
  adjust(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const key = idempotencyKeyOf(request, { required: false });
      const input = parseBody(adjustmentBody, body);
      await this.member(tenant.tenantId, userId);
      const adjustmentId = key ? createHash('sha256').update(`${userId}\n${key}`).digest('hex').slice(0, 32) : randomUUID();
      const { program } = await this.programs.current(tenant.tenantId);
      const now = this.clock.now();
      const outcome = await this.wallets.handle(
        { type: 'Adjust', userId, adjustmentId, points: input.points, reason: input.reason, actor: input.actor, program, now },
        { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now },
      );
      if (!outcome.accepted) throw adjustmentRefused(outcome.rejection, userId);
      const made = (await this.wallets.state(tenant.tenantId, userId)).state.adjustments.get(adjustmentId)!;
      return { adjustmentId, points: made.points, balance: made.balance };
    });
  }

  private async member(tenantId: string, userId: string) {
    const wallet = isMemberId(userId) ? await this.wallets.state(tenantId, userId) : undefined;
    if (!wallet?.state.enrolled) throw unknownMember(userId);
    return wallet;
  }
}

function adjustmentRefused(rejection: WalletRejection, userId: string): ProblemError {
  switch (rejection.kind) {
    case 'InsufficientPoints':
      return new ProblemError({
        status: 409,
        type: 'insufficient-points',
        title: 'Not enough points',
        detail: `the member has ${rejection.available} spendable points`,
        extensions: { available: rejection.available, requested: rejection.requested },
      });
    case 'WalletLimitReached':
      return new ProblemError({
        status: 409,
        type: 'wallet-limit-reached',
        title: 'The wallet cannot hold more points',
        detail: `a wallet holds at most ${rejection.limit} points; this one holds ${rejection.held}`,
        extensions: { limit: rejection.limit, held: rejection.held },
      });
    case 'IdempotencyKeyReused':
      return new ProblemError({
        status: 422,
        type: 'idempotency-key-reused',
        title: 'Idempotency-Key already used for another request',
        detail: 'this Idempotency-Key was used for an adjustment with another body; send a new key for a new adjustment',
      });
    default:
      return unknownMember(userId);
  }
}
