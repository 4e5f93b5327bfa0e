import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { bounded, BOUNDS, parseBody, RequestValidationError } from '#platform';
import { ProgramHandler } from '../program/program.handler';
import { Clock } from '../rewards.ports';
import { isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from './member.http';
import { WalletHandler } from './wallet.handler';

export const tierAssignmentBody = z
  .object({
    tier: bounded.name(BOUNDS.nameLength),
    reason: bounded.text().trim().min(1),
    actor: bounded.name(128),
  })
  .strict();

/** An operator sets a member's tier by hand, with the reason on record (TierAssigned, the reason sealed). */
@Controller('t/:tenant/members/:userId/tier')
export class TierController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly programs: ProgramHandler,
    private readonly clock: Clock,
  ) {}

  /** The member's tier until the review a period from now; the same tier again changes nothing. */
  @Post()
  @HttpCode(200)
  assign(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const { tier, reason, actor } = parseBody(tierAssignmentBody, body);
      if (!isMemberId(userId)) throw unknownMember(userId);
      const now = this.clock.now();
      const { program } = await this.programs.current(tenant.tenantId);
      const context = { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now };
      const outcome = await this.wallets.handle({ type: 'AssignTier', userId, tier, reason, actor, program, now }, context);
      if (!outcome.accepted) {
        if (outcome.rejection.kind === 'UnknownTier')
          throw new RequestValidationError([{ pointer: '/tier', message: "must be one of the program's tiers" }]);
        throw unknownMember(userId);
      }
      const { state } = await this.wallets.state(tenant.tenantId, userId);
      return { userId, tier: state.tier, reviewAt: state.tierReviewAt };
    });
  }
}
