import { Injectable } from '@nestjs/common';
import { normaliseEmail } from '#personal-data';
import { RequestValidationError } from '#platform';
import type { Caller } from '../access/tenant-access';
import { RequestMailedLink, RequestMailedLinkHandler } from '../account/mailed-links';
import { tokenProblem } from '../account/token-problems';
import { parseToken } from '../account/tokens';
import { ReadModels } from '../read-models';
import { EmailIndex, type TenantRef } from '../register.ports';
import { RequestLimits } from '../request-limits/request-limits';
import { passwordProblems } from '../sign-up/password';
import { ConfirmPasswordReset, ConfirmPasswordResetHandler } from './password-reset.handler';

/** Password resets as the API and the hosted pages take them; refusals are problems (400, 429). */
@Injectable()
export class PasswordResetFlow {
  constructor(
    private readonly linkRequests: RequestMailedLinkHandler,
    private readonly confirmations: ConfirmPasswordResetHandler,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
  ) {}

  /** The same answer for any address: whether a mail goes out is decided after it. */
  async request(tenant: TenantRef, caller: Caller, address: string): Promise<void> {
    const email = normaliseEmail(address);
    const { mayMail } = await this.limits.mailedLinkRequest(
      'password-reset',
      tenant.tenantId,
      caller.ip,
      this.emailIndex.of(tenant.tenantId, email),
    );
    await this.linkRequests.execute(new RequestMailedLink('password-reset', tenant, email, caller.correlationId, mayMail));
  }

  async confirm(tenant: TenantRef, caller: Caller, token: string, password: string): Promise<{ userId: string }> {
    const weak = passwordProblems(password, '');
    if (weak.length > 0) throw new RequestValidationError(weak.map((message) => ({ pointer: '/password', message })));
    await this.limits.tokenAttempt('reset-confirm', tenant.tenantId, caller.ip, parseToken(token)?.userId);
    const outcome = await this.confirmations.execute(new ConfirmPasswordReset(tenant, token, password, caller.correlationId));
    if (!outcome.reset) throw tokenProblem(outcome.rejection, 'reset');
    // Answered once the profile shows it (the e-mail now verified), as sign-up and verification are.
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId };
  }
}
