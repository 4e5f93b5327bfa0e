import { Body, Controller, Delete, HttpCode, Param, Put, Req } from '@nestjs/common';
import { z } from 'zod';
import { parseBody } from '#platform';
import { correlationIdOf, TenantAccess, type IncomingRequest } from '../access/tenant-access';
import { ChangeOwnAccount, ChangeOwnAccountHandler } from '../profile/account-commands.handler';
import { accountNotFound } from '../profile/profile.http';
import { ReadModels } from '../read-models';
import { consentPurpose, policyVersion } from '../register.schemas';

export const grantConsentBody = z.object({ policyVersion }).strict();

/** Consent history lives in the account stream; the profile shows what is granted now. */
@Controller('t/:tenant/me/consents')
export class ConsentController {
  constructor(
    private readonly accountChanges: ChangeOwnAccountHandler,
    private readonly access: TenantAccess,
    private readonly readModels: ReadModels,
  ) {}

  @Put(':purpose')
  async grant(
    @Param('tenant') slug: string,
    @Param('purpose') purposeParam: string,
    @Req() request: IncomingRequest,
    @Body() body: unknown,
  ) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const purpose = parseBody(z.object({ purpose: consentPurpose }), { purpose: purposeParam }).purpose;
    const input = parseBody(grantConsentBody, body);
    const outcome = await this.accountChanges.execute(
      new ChangeOwnAccount(
        tenant,
        userId,
        (now) => ({ type: 'GrantConsent', purpose, policyVersion: input.policyVersion, now }),
        correlationIdOf(request),
      ),
    );
    if (!outcome.accepted) throw accountNotFound();
    await this.readModels.caughtUpWith(outcome.position);
    return { purpose, policyVersion: input.policyVersion, granted: true };
  }

  @Delete(':purpose')
  @HttpCode(204)
  async withdraw(@Param('tenant') slug: string, @Param('purpose') purposeParam: string, @Req() request: IncomingRequest) {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    const purpose = parseBody(z.object({ purpose: consentPurpose }), { purpose: purposeParam }).purpose;
    const outcome = await this.accountChanges.execute(
      new ChangeOwnAccount(tenant, userId, (now) => ({ type: 'WithdrawConsent', purpose, now }), correlationIdOf(request)),
    );
    if (!outcome.accepted) throw accountNotFound();
    await this.readModels.caughtUpWith(outcome.position);
  }
}
