import { Injectable } from '@nestjs/common';
import { normaliseEmail } from '#personal-data';
import type { Caller } from '../access/tenant-access';
import { RequestMailedLink, RequestMailedLinkHandler } from '../account/mailed-links';
import { tokenProblem } from '../account/token-problems';
import { parseToken } from '../account/tokens';
import { ReadModels } from '../read-models';
import { EmailIndex, type TenantRef } from '../register.ports';
import { RequestLimits } from '../request-limits/request-limits';
import { VerifyEmail, VerifyEmailHandler } from './verification.handler';

/** E-mail verification as the API and the hosted page take it; refusals are problems (400, 429). */
@Injectable()
export class VerificationFlow {
  constructor(
    private readonly verifications: VerifyEmailHandler,
    private readonly linkRequests: RequestMailedLinkHandler,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
  ) {}

  async verify(tenant: TenantRef, caller: Caller, token: string): Promise<{ userId: string }> {
    await this.limits.tokenAttempt('verification', tenant.tenantId, caller.ip, parseToken(token)?.userId);
    const outcome = await this.verifications.execute(new VerifyEmail(tenant, token, caller.correlationId));
    if (!outcome.verified) throw tokenProblem(outcome.rejection, 'verification');
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId };
  }

  /** A new link for an address that awaits verification; the same answer for any address. */
  async requestLink(tenant: TenantRef, caller: Caller, address: string): Promise<void> {
    const email = normaliseEmail(address);
    const { mayMail } = await this.limits.mailedLinkRequest(
      'email-verification',
      tenant.tenantId,
      caller.ip,
      this.emailIndex.of(tenant.tenantId, email),
    );
    await this.linkRequests.execute(new RequestMailedLink('email-verification', tenant, email, caller.correlationId, mayMail));
  }
}
