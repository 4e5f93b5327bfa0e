import { Controller, Get, Param, Req } from '@nestjs/common';
import { ProblemError } from '#platform';
import { Clock } from '../rewards.ports';
import { isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from '../wallet/member.http';
import { WalletHandler } from '../wallet/wallet.handler';
import { REFERRAL_CODE_PROPERTY, Referrals } from './referrals';

/** A member's referral code: the same every time, for the shop to show them and put in their links. */
@Controller('t/:tenant/members/:userId/referral-code')
export class ReferralController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly referrals: Referrals,
    private readonly wallets: WalletHandler,
    private readonly clock: Clock,
  ) {}

  /** Claims the code for the member the first time (a write, counted as one), then answers it with how many it rewarded. */
  @Get()
  code(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest) {
    return this.calls.write(request, slug, async (tenant) => {
      if (!isMemberId(userId) || !(await this.wallets.state(tenant.tenantId, userId)).state.enrolled) throw unknownMember(userId);
      const now = this.clock.now();
      const code = await this.referrals.issue(tenant.tenantId, userId, {
        tenantId: tenant.tenantId,
        correlationId: correlationIdOf(request),
        now,
      });
      if (!code)
        throw new ProblemError({
          status: 409,
          type: 'referral-code-taken',
          title: 'Referral code unavailable',
          detail: 'this member has no code',
        });
      return { userId, code, property: REFERRAL_CODE_PROPERTY, referees: await this.referrals.rewardedFor(tenant.tenantId, code) };
    });
  }
}
