import { Inject, Injectable } from '@nestjs/common';
import { WrongExpectedRevisionError, type Position } from '#eventstore';
import { CommandRunner, type CommandContext, type StreamCommand } from '#cqrs';
import { accountStreamFor, type AccountEvent } from '#contracts';
import type { AccountCommand } from './account.decider';
import type { AccountRejection, AccountState } from './account.state';
import { EVENT_STORE, type EventStore } from '../register.ports';
import { reservationDecider } from './email-reservation';

/**
 * Claims an address on its reservation stream as it stands, when the fast path (claim and account
 * written together) could not be taken: a sign-up and an import line both come here.
 *   claimed: this call wrote the claim;
 *   held:    `userId` held it already (the same person imported twice at once);
 *   taken:   someone else holds it.
 */
@Injectable()
export class EmailClaims {
  constructor(
    private readonly runner: CommandRunner,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /**
   * The fast path: claim an address nobody ever held and start the account it is claimed for, in
   * one statement on PostgreSQL. The account's position, or undefined when that could not be done
   * (the address or the account already has a stream, or the store cannot): nothing is stored then.
   */
  async claimWithAccount(
    reservationStream: string,
    account: StreamCommand<AccountCommand, AccountEvent, AccountState, AccountRejection> & { readonly command: AccountCommand },
    userId: string,
  ): Promise<{ position?: Position } | undefined> {
    const { context } = account;
    const together = await this.runner.startTogether(
      {
        streamName: reservationStream,
        decider: reservationDecider,
        command: { type: 'ReserveEmail' as const, userId, now: context.now, holderHasNoAccount: false },
        context,
      },
      account,
    );
    return together && { position: together[1].position };
  }

  async claim(reservationStream: string, userId: string, now: Date, context: CommandContext): Promise<'claimed' | 'held' | 'taken'> {
    try {
      const reservation = await this.runner.handle({
        streamName: reservationStream,
        decider: reservationDecider,
        command: async (state) => ({
          type: 'ReserveEmail' as const,
          userId,
          now,
          holderHasNoAccount: state.holder && state.holder !== userId ? await this.hasNoAccount(context.tenantId, state.holder) : false,
        }),
        context,
        // A lost race is re-decided once on the winner's reservation, which then answers EmailTaken.
        retriesOnConflict: 2,
        // The address may be free after all (a claim raced with ours and lost).
        expectNewStream: true,
      });
      if (!reservation.accepted) return 'taken';
      return reservation.events.length > 0 ? 'claimed' : 'held';
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) return 'taken';
      throw error;
    }
  }

  /** Gives back a claim whose account was never written (an import line refused after claiming). */
  async abandon(reservationStream: string, userId: string, now: Date, context: CommandContext): Promise<void> {
    await this.runner.handle({
      streamName: reservationStream,
      decider: reservationDecider,
      command: { type: 'ReleaseEmail' as const, userId, now, reason: 'abandoned' as const },
      context,
      retriesOnConflict: 2,
    });
  }

  private async hasNoAccount(tenantId: string, userId: string): Promise<boolean> {
    const events = await this.store.readStream(accountStreamFor(tenantId, userId), { maxCount: 1 });
    return events.length === 0;
  }
}
