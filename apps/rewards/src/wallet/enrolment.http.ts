import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { bounded, parseBody } from '#platform';
import { Clock } from '../rewards.ports';
import { isMemberId } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import { correlationIdOf, type IncomingRequest } from '../tenants/tenant-access';
import { unknownMember } from './member.http';
import { WalletHandler } from './wallet.handler';
import { availablePoints } from './wallet.state';

export const enrolmentBody = z
  .object({
    /** The member agreed to the program's terms: an explicit enrolment is one they asked for. */
    consent: z.literal(true, { message: 'must be true: a member is enrolled with their consent' }),
    /** Where they agreed (a form, a till, an app), for the record. */
    channel: bounded.name(64).default('api'),
  })
  .strict();

/** Explicit enrolment, as a shop's "join our loyalty program" form does it: the member and their consent, as events. */
@Controller('t/:tenant/members/:userId/enrolment')
export class EnrolmentController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly wallets: WalletHandler,
    private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(201)
  enrol(@Param('tenant') slug: string, @Param('userId') userId: string, @Req() request: IncomingRequest, @Body() body: unknown) {
    return this.calls.write(request, slug, async (tenant) => {
      const input = parseBody(enrolmentBody, body);
      if (!isMemberId(userId)) throw unknownMember(userId);
      const now = this.clock.now();
      const outcome = await this.wallets.handle(
        { type: 'EnrolWithConsent', userId, channel: input.channel, now },
        { tenantId: tenant.tenantId, correlationId: correlationIdOf(request), now },
      );
      // Refused only for a member register erased: their wallet is closed for good.
      if (!outcome.accepted) throw unknownMember(userId);
      const { state } = await this.wallets.state(tenant.tenantId, userId);
      return { userId, enrolled: true, consentRecordedAt: state.consentRecordedAt, balance: availablePoints(state, now) };
    });
  }
}
