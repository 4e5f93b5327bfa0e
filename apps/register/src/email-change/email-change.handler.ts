import { Injectable } from '@nestjs/common';
import type { Position } from '#eventstore';
import { CommandRunner, type CommandContext } from '#cqrs';
import { accountStreamFor, emailReservationStreamFor } from '#contracts';
import { accountDecider, emailChangeTokenRejection } from '../account/account.decider';
import type { AccountRejection } from '../account/account.state';
import { EmailClaims } from '../account/email-claims';
import { reservationDecider } from '../account/email-reservation';
import { parseToken } from '../account/tokens';
import { Clock, EmailIndex, type TenantRef } from '../register.ports';

export type ConfirmEmailChangeOutcome =
  | { readonly changed: true; readonly userId: string; readonly position?: Position }
  | { readonly changed: false; readonly rejection: AccountRejection };

/**
 * Opens a mailed e-mail change link. The new address is claimed on its reservation stream exactly
 * as a sign-up claims one (EmailClaims), so a change and a sign-up, or two changes, racing to one
 * address end with one holder; only then does the account move (EmailChanged, decided again on the
 * stream, so a link used or replaced meanwhile is refused and the claim given back), and the old
 * address is released for anyone to use. A crash before that release leaves the old address held
 * by this account: nothing is lost, the address is merely not reusable by someone else.
 */
@Injectable()
export class ConfirmEmailChangeHandler {
  constructor(
    private readonly runner: CommandRunner,
    private readonly claims: EmailClaims,
    private readonly emailIndex: EmailIndex,
    private readonly clock: Clock,
  ) {}

  async execute(tenant: TenantRef, token: string, correlationId: string): Promise<ConfirmEmailChangeOutcome> {
    const parsed = parseToken(token);
    if (!parsed) return { changed: false, rejection: { kind: 'InvalidToken' } };
    const { userId, tokenHash } = parsed;
    const now = this.clock.now();
    const context: CommandContext = { tenantId: tenant.tenantId, correlationId, now };
    const stream = accountStreamFor(tenant.tenantId, userId);
    // Checked before the claim, so that a wrong or stale link never touches anyone's address.
    const { state } = await this.runner.load(stream, accountDecider);
    const invalid = emailChangeTokenRejection(state, tokenHash, now);
    if (invalid || !state.emailChange) return { changed: false, rejection: invalid ?? { kind: 'InvalidToken' } };
    const newIndex = this.emailIndex.of(tenant.tenantId, state.emailChange.newEmail);
    const reservation = emailReservationStreamFor(tenant.tenantId, newIndex);
    const claim = await this.claims.claim(reservation, userId, now, context);
    if (claim === 'taken') return { changed: false, rejection: { kind: 'EmailTaken' } };
    const outcome = await this.runner.handle({
      streamName: stream,
      decider: accountDecider,
      command: { type: 'ConfirmEmailChange', tokenHash, emailIndex: newIndex, now },
      context,
      // Two clicks on one link: the second is re-decided on the changed account and refused.
      retriesOnConflict: 1,
    });
    if (!outcome.accepted) {
      // Given back unless the account holds it after all (the first of two clicks moved it there).
      const after = await this.runner.load(stream, accountDecider);
      if (after.state.emailIndex !== newIndex) await this.claims.abandon(reservation, userId, now, context);
      return { changed: false, rejection: outcome.rejection.kind === 'AccountNotFound' ? { kind: 'InvalidToken' } : outcome.rejection };
    }
    const changed = outcome.events.find((event) => event.type === 'EmailChanged');
    const previous = changed?.type === 'EmailChanged' ? changed.data.previousEmailIndex : undefined;
    if (previous && previous !== newIndex) {
      await this.runner.handle({
        streamName: emailReservationStreamFor(tenant.tenantId, previous),
        decider: reservationDecider,
        command: { type: 'ReleaseEmail', userId, now, reason: 'changed' },
        context,
        retriesOnConflict: 2,
      });
    }
    return { changed: true, userId, position: outcome.position };
  }
}
