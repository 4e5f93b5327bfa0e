import { Inject, Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import type { Position } from '#eventstore';
import { CommandRunner, type CommandContext } from '#cqrs';
import { accountDecider } from '../account/account.decider';
import { accountStreamFor, emailReservationStreamFor, type ProfileAttributes } from '#contracts';
import { EmailClaims } from '../account/email-claims';
import { issueToken } from '../account/tokens';
import { BackgroundWork } from '../background-work';
import { Mailer } from '../mail/mailer';
import { mailLocale, verificationMail } from '../mail/templates';
import type { Locale } from '#platform';
import { Clock, EmailIndex, REGISTER_SETTINGS, type RegisterSettings, type TenantRef } from '../register.ports';
import { PasswordHasher } from './password-hasher';

export class SignUp {
  constructor(
    readonly tenant: TenantRef,
    readonly email: string,
    readonly password: string,
    readonly profile: ProfileAttributes,
    readonly consents: readonly { purpose: string; policyVersion: string }[],
    readonly correlationId: string,
    /** The language of the page or call that signed up (see mailLocale). */
    readonly requestLocale: Locale,
  ) {}
}

export type SignUpOutcome =
  | { readonly registered: true; readonly userId: string; readonly registeredAt: Date; readonly position?: Position }
  | { readonly registered: false; readonly reason: 'EmailTaken' };

@Injectable()
export class SignUpHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly emailIndex: EmailIndex,
    private readonly mailer: Mailer,
    private readonly clock: Clock,
    @Inject(REGISTER_SETTINGS) private readonly settings: RegisterSettings,
    private readonly background: BackgroundWork,
    private readonly hasher: PasswordHasher,
    private readonly claims: EmailClaims,
  ) {}

  async execute(command: SignUp): Promise<SignUpOutcome> {
    const { tenant } = command;
    const now = this.clock.now();
    const context: CommandContext = { tenantId: tenant.tenantId, correlationId: command.correlationId, now };
    const userId = uuidv7();
    const emailIndex = this.emailIndex.of(tenant.tenantId, command.email);
    const reservationStream = emailReservationStreamFor(tenant.tenantId, emailIndex);

    // Hash first: the reservation is then held for milliseconds, not for the cost of argon2id.
    const passwordHash = await this.hasher.hash(tenant.tenantId, command.password, 'sign-up');
    const verification = issueToken(userId);
    const registration = {
      streamName: accountStreamFor(tenant.tenantId, userId),
      decider: accountDecider,
      command: {
        type: 'RegisterUser' as const,
        userId,
        email: command.email,
        emailIndex,
        passwordHash,
        profile: command.profile,
        consents: command.consents,
        verificationTokenHash: verification.tokenHash,
        verificationExpiresAt: new Date(now.getTime() + this.settings.verificationTokenTtlMs),
        now,
      },
      context,
    };
    // Most sign-ups claim an address nobody ever held: the claim and the account are then
    // written together, in one statement on PostgreSQL. Otherwise, or on a store that cannot,
    // the claim is decided on what the reservation stream holds, then the account follows.
    const together = await this.claims.claimWithAccount(reservationStream, registration, userId);
    let position = together?.position;
    if (!together) {
      if ((await this.claims.claim(reservationStream, userId, now, context)) === 'taken')
        return { registered: false, reason: 'EmailTaken' };
      const outcome = await this.runner.handle({ ...registration, retriesOnConflict: 0, expectNewStream: true });
      if (!outcome.accepted) throw new Error(`fresh account ${userId} was rejected: ${outcome.rejection.kind}`);
      position = outcome.position;
    }
    // The account exists whether or not the mail goes out; a failed mail must not turn the sign-up into an error.
    const locale = mailLocale(command.profile.locale, command.requestLocale);
    const mail = verificationMail(tenant, command.email, verification.token, this.settings, locale);
    this.background.run('verification-mail', () => this.mailer.send(mail));
    return { registered: true, userId, registeredAt: now, position };
  }
}
