import { accept, defineEvent, reject, type Decider, type EventOf } from '#cqrs';

/**
 * One account per e-mail per tenant. The reservation stream is keyed by the e-mail's blind index;
 * appending to it with the revision that was read is what makes two simultaneous sign-ups with one
 * address end with exactly one winner.
 */
export const EmailReserved = defineEvent<{ userId: string; reservedAt: string }>()('EmailReserved');
export const EmailReleased = defineEvent<{ userId: string; releasedAt: string; reason: 'erased' | 'abandoned' | 'changed' }>()(
  'EmailReleased',
);

export type ReservationEvent = EventOf<typeof EmailReserved> | EventOf<typeof EmailReleased>;
export const reservationEvents = [EmailReserved, EmailReleased];

export interface ReservationState {
  readonly holder?: string;
  readonly reservedAt?: string;
}

export type ReservationCommand =
  | {
      readonly type: 'ReserveEmail';
      readonly userId: string;
      readonly now: Date;
      /**
       * Whether the current holder's account stream is still empty. A sign-up that crashed between
       * reserving and registering leaves such a holder; after a grace period the address is free.
       */
      readonly holderHasNoAccount: boolean;
    }
  | {
      readonly type: 'ReleaseEmail';
      readonly userId: string;
      readonly now: Date;
      /**
       * `abandoned`: the claim's account was never written (an import line refused after its claim);
       * `changed`: the account moved to another address.
       */
      readonly reason?: 'erased' | 'abandoned' | 'changed';
    };

export type ReservationRejection = { readonly kind: 'EmailTaken' };

/** How long a reservation without an account blocks the address (a sign-up takes well under a second). */
export const ABANDONED_RESERVATION_MS = 2 * 60 * 1000;

export const reservationDecider: Decider<ReservationCommand, ReservationEvent, ReservationState, ReservationRejection> = {
  initialState: () => ({}),
  evolve(state, event) {
    switch (event.type) {
      case 'EmailReserved':
        return { holder: event.data.userId, reservedAt: event.data.reservedAt };
      case 'EmailReleased':
        return state.holder === event.data.userId ? {} : state;
    }
  },
  decide(command, state) {
    if (command.type === 'ReleaseEmail') {
      if (state.holder !== command.userId) return accept();
      return accept(EmailReleased({ userId: command.userId, releasedAt: command.now.toISOString(), reason: command.reason ?? 'erased' }));
    }
    // Claiming again what one holds is nothing new: an import of the same person, sent twice at once.
    if (state.holder === command.userId) return accept();
    const reserve = EmailReserved({ userId: command.userId, reservedAt: command.now.toISOString() });
    if (!state.holder) return accept(reserve);
    const abandoned =
      command.holderHasNoAccount && command.now.getTime() - new Date(state.reservedAt ?? 0).getTime() > ABANDONED_RESERVATION_MS;
    if (!abandoned) return reject({ kind: 'EmailTaken' });
    return accept(EmailReleased({ userId: state.holder, releasedAt: command.now.toISOString(), reason: 'abandoned' }), reserve);
  },
};
