import { Inject, Injectable } from '@nestjs/common';
import { CommandRunner } from '#cqrs';
import { accountStreamFor, emailReservationStreamFor } from '#contracts';
import { BackgroundWork } from '../background-work';
import { Mailer, type OutgoingMail } from '../mail/mailer';
import { passwordResetMail, verificationMail } from '../mail/templates';
import { Clock, EmailIndex, REGISTER_SETTINGS, type RegisterSettings, type TenantRef } from '../register.ports';
import { accountDecider } from './account.decider';
import { reservationDecider } from './email-reservation';
import { issueToken } from './tokens';

/** The links register mails on request, by an address typed into a form. */
export type MailedLink = 'password-reset' | 'email-verification';

export class RequestMailedLink {
  constructor(
    readonly link: MailedLink,
    readonly tenant: TenantRef,
    readonly email: string,
    readonly correlationId: string,
    /** False once the address is over its request limit: the answer stays the same, no mail goes out. */
    readonly mayMail: boolean = true,
  ) {}
}

/**
 * Answers the same way, in content and in time, whether or not the address has an account, so the
 * endpoints cannot be used to find out who is registered: the lookup, the event and the mail all
 * happen after the answer, and the mail is only sent when the account takes the new token (a
 * verified address takes no new verification link).
 */
@Injectable()
export class RequestMailedLinkHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly emailIndex: EmailIndex,
    private readonly mailer: Mailer,
    private readonly clock: Clock,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
    private readonly background: BackgroundWork,
  ) {}

  async execute(command: RequestMailedLink): Promise<void> {
    if (command.mayMail) this.background.run(`${command.link}-request`, () => this.issue(command));
  }

  private async issue({ link, tenant, email, correlationId }: RequestMailedLink): Promise<void> {
    const now = this.clock.now();
    const reservation = await this.runner.load(
      emailReservationStreamFor(tenant.tenantId, this.emailIndex.of(tenant.tenantId, email)),
      reservationDecider,
    );
    const userId = reservation.state.holder;
    if (!userId) return;
    const token = issueToken(userId);
    const ttlMs = link === 'password-reset' ? this.settings.resetTokenTtlMs : this.settings.verificationTokenTtlMs;
    const expiresAt = new Date(now.getTime() + ttlMs);
    const outcome = await this.runner.handle({
      streamName: accountStreamFor(tenant.tenantId, userId),
      decider: accountDecider,
      command:
        link === 'password-reset'
          ? { type: 'RequestPasswordReset', tokenHash: token.tokenHash, expiresAt }
          : { type: 'RequestEmailVerification', tokenHash: token.tokenHash, expiresAt },
      context: { tenantId: tenant.tenantId, correlationId, now },
    });
    if (!outcome.accepted || outcome.events.length === 0) return;
    const mail: OutgoingMail =
      link === 'password-reset'
        ? passwordResetMail(tenant, email, token.token, this.settings)
        : verificationMail(tenant, email, token.token, this.settings);
    await this.mailer.send(mail);
  }
}
