import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { normaliseEmail } from '#personal-data';
import { ProblemError, type Locale } from '#platform';
import type { Caller } from '../access/tenant-access';
import { tokenProblem } from '../account/token-problems';
import { parseToken } from '../account/tokens';
import { ChangeOwnAccount, ChangeOwnAccountHandler } from '../profile/account-commands.handler';
import { accountNotFound } from '../profile/profile.http';
import { ReadModels } from '../read-models';
import { EmailIndex, type TenantRef } from '../register.ports';
import { RequestLimits } from '../request-limits/request-limits';
import { ConfirmEmailChangeHandler } from './email-change.handler';

export const emailTakenByAnother = () =>
  new ProblemError({
    status: 409,
    type: 'email-taken',
    title: 'E-mail address taken',
    detail: 'another account uses this address: the address did not change',
  });

/** A change of address as register's API and its confirmation page take it; refusals are problems. */
@Injectable()
export class EmailChangeFlow {
  constructor(
    private readonly accounts: ChangeOwnAccountHandler,
    private readonly confirmations: ConfirmEmailChangeHandler,
    private readonly readModels: ReadModels,
    private readonly limits: RequestLimits,
    private readonly emailIndex: EmailIndex,
  ) {}

  /**
   * The signed-in person asks to move to `address`. Whether another account holds it is not
   * looked at here (the answer would tell who is registered): the link's confirmation finds out.
   * Past the mail limit of that address the request is dropped, with the same answer.
   */
  async request(tenant: TenantRef, caller: Caller, userId: string, address: string, locale: Locale): Promise<void> {
    const newEmail = normaliseEmail(address);
    const { mayMail } = await this.limits.mailedLinkRequest(
      'email-verification',
      tenant.tenantId,
      caller.ip,
      this.emailIndex.of(tenant.tenantId, newEmail),
    );
    if (!mayMail) return;
    const outcome = await this.accounts.execute(
      new ChangeOwnAccount(
        tenant,
        userId,
        (now) => ({ type: 'RequestEmailChange', requestId: uuidv7(), newEmail, locale, now }),
        caller.correlationId,
      ),
    );
    if (!outcome.accepted) throw accountNotFound();
  }

  async confirm(tenant: TenantRef, caller: Caller, token: string): Promise<{ userId: string }> {
    await this.limits.tokenAttempt('verification', tenant.tenantId, caller.ip, parseToken(token)?.userId);
    const outcome = await this.confirmations.execute(tenant, token, caller.correlationId);
    if (!outcome.changed) {
      if (outcome.rejection.kind === 'EmailTaken') throw emailTakenByAnother();
      throw tokenProblem(outcome.rejection, 'e-mail change');
    }
    await this.readModels.caughtUpWith(outcome.position);
    return { userId: outcome.userId };
  }
}
