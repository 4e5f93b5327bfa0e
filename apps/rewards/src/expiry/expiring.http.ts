import { Controller, Get, Param, Query, Req } from '@nestjs/common';
import { Clock } from '../rewards.ports';
import { invalidParameter, isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import type { IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from '../wallet/member.http';
import { WalletHandler } from '../wallet/wallet.handler';
import { expiringWithin } from './expiring';

/** What a member is about to lose: folded from their wallet, so it includes the caller's last write. */
@Controller('t/:tenant/members/:userId/expiring')
export class ExpiringController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly clock: Clock,
  ) {}

  @Get()
  expiring(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Query('days') days?: string) {
    return this.calls.read(request, slug, async (tenant) => {
      const window = days === undefined ? 30 : Number(days);
      if (!/^\d{1,3}$/.test(days ?? '30') || window < 1 || window > 366)
        throw invalidParameter('days', 'must be a whole number from 1 to 366');
      if (!isMemberId(userId)) throw unknownMember(userId);
      const { state } = await this.wallets.state(tenant.tenantId, userId);
      if (!state.enrolled) throw unknownMember(userId);
      return { userId, days: window, ...expiringWithin(state, this.clock.now(), window) };
    });
  }
}
