import { Injectable } from '@nestjs/common';
import { CommandRunner } from '#cqrs';
import type { Position } from '#eventstore';
import { accountStreamFor } from '#contracts';
import { accountDecider, resetTokenRejection } from '../account/account.decider';
import type { AccountRejection } from '../account/account.state';
import { parseToken } from '../account/tokens';
import { Clock, type TenantRef } from '../register.ports';
import { PasswordHasher } from '../sign-up/password-hasher';

export class ConfirmPasswordReset {
  constructor(
    readonly tenant: TenantRef,
    readonly token: string,
    readonly password: string,
    readonly correlationId: string,
  ) {}
}

export type ConfirmPasswordResetOutcome =
  | { readonly reset: true; readonly userId: string; readonly position?: Position }
  | { readonly reset: false; readonly rejection: AccountRejection };

@Injectable()
export class ConfirmPasswordResetHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
  ) {}

  /**
   * The token is checked on the account before the new password is hashed: argon2id is the dear
   * part, and a request with a wrong, used or expired token must not get a core to spend. The
   * decider checks the token again on the stream it appends to, so a reset that raced with this
   * one is still refused.
   */
  async execute({ tenant, token, password, correlationId }: ConfirmPasswordReset): Promise<ConfirmPasswordResetOutcome> {
    const parsed = parseToken(token);
    if (!parsed) return { reset: false, rejection: { kind: 'InvalidToken' } };
    const streamName = accountStreamFor(tenant.tenantId, parsed.userId);
    const now = this.clock.now();
    const { state } = await this.runner.load(streamName, accountDecider);
    const refused = resetTokenRejection(state, parsed.tokenHash, now);
    if (refused) return { reset: false, rejection: asTokenRejection(refused) };
    const passwordHash = await this.hasher.hash(tenant.tenantId, password, 'reset');
    const outcome = await this.runner.handle({
      streamName,
      decider: accountDecider,
      command: { type: 'ResetPassword', tokenHash: parsed.tokenHash, passwordHash, now },
      context: { tenantId: tenant.tenantId, correlationId, now },
      retriesOnConflict: 1,
    });
    if (!outcome.accepted) return { reset: false, rejection: asTokenRejection(outcome.rejection) };
    return { reset: true, userId: parsed.userId, position: outcome.position };
  }
}

/** A token naming no live account is just an invalid token: the answer must not say which accounts exist. */
function asTokenRejection(rejection: AccountRejection): AccountRejection {
  return rejection.kind === 'AccountNotFound' ? { kind: 'InvalidToken' } : rejection;
}
