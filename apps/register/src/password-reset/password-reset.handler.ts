import { Inject, Injectable } from '@nestjs/common';
import { CommandRunner } from '#cqrs';
import type { Position } from '#eventstore';
import { accountDecider, resetTokenRejection } from '../account/account.decider';
import type { AccountRejection } from '../account/account.state';
import { accountStreamFor, emailReservationStreamFor } from '#contracts';
import { reservationDecider } from '../account/email-reservation';
import { issueToken, parseToken } from '../account/tokens';
import { BackgroundWork } from '../background-work';
import { Mailer } from '../mail/mailer';
import { passwordResetMail } from '../mail/templates';
import { Clock, EmailIndex, REGISTER_SETTINGS, type RegisterSettings, type TenantRef } from '../register.ports';
import { PasswordHasher } from '../sign-up/password-hasher';

export class RequestPasswordReset {
  constructor(
    readonly tenant: TenantRef,
    readonly email: string,
    readonly correlationId: string,
    /** False once the address is over its request limit: the answer stays the same, no mail goes out. */
    readonly mayMail: boolean = true,
  ) {}
}

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

/**
 * Answers the same way, in content and in time, whether or not the address has an account, so the
 * endpoint cannot be used to find out who is registered: the lookup, the event and the mail all
 * happen after the answer, and the mail is only sent when there is an account.
 */
@Injectable()
export class RequestPasswordResetHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly emailIndex: EmailIndex,
    private readonly mailer: Mailer,
    private readonly clock: Clock,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
    private readonly background: BackgroundWork,
  ) {}

  async execute(command: RequestPasswordReset): Promise<void> {
    if (command.mayMail) this.background.run('password-reset-request', () => this.issueReset(command));
  }

  private async issueReset({ tenant, email, correlationId }: RequestPasswordReset): Promise<void> {
    const now = this.clock.now();
    const reservation = await this.runner.load(
      emailReservationStreamFor(tenant.tenantId, this.emailIndex.of(tenant.tenantId, email)),
      reservationDecider,
    );
    const userId = reservation.state.holder;
    if (!userId) return;
    const reset = issueToken(userId);
    const outcome = await this.runner.handle({
      streamName: accountStreamFor(tenant.tenantId, userId),
      decider: accountDecider,
      command: {
        type: 'RequestPasswordReset',
        tokenHash: reset.tokenHash,
        expiresAt: new Date(now.getTime() + this.settings.resetTokenTtlMs),
      },
      context: { tenantId: tenant.tenantId, correlationId, now },
    });
    if (outcome.accepted && outcome.events.length > 0) await this.mailer.send(passwordResetMail(tenant, email, reset.token, this.settings));
  }
}

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
