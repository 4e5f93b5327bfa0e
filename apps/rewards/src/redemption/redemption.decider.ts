import { accept, reject, type Decider } from '#cqrs';
import {
  RedemptionCancellationCompleted,
  RedemptionCancellationRequested,
  RedemptionConfirmed,
  RedemptionDeclineStarted,
  RedemptionDeclined,
  RedemptionFulfilled,
  RedemptionRequested,
  type RedemptionEvent,
} from './redemption.events';

export const REDEMPTION_STATUSES = ['requested', 'confirmed', 'declining', 'declined', 'fulfilled', 'cancelling', 'cancelled'] as const;
export type RedemptionStatus = (typeof REDEMPTION_STATUSES)[number];

export interface RedemptionState {
  readonly status?: RedemptionStatus;
  readonly request?: { redemptionId: string; userId: string; rewardId: string; cost: number; fingerprint: string; requestedAt: string };
  readonly declinedFor?: string;
}

export type RedemptionCommand =
  | {
      readonly type: 'Request';
      readonly redemptionId: string;
      readonly userId: string;
      readonly rewardId: string;
      readonly cost: number;
      readonly fingerprint: string;
      readonly now: Date;
    }
  | { readonly type: 'Confirm'; readonly now: Date }
  | { readonly type: 'Decline'; readonly reason: string; readonly now: Date }
  | { readonly type: 'StartDecline'; readonly reason: string; readonly now: Date }
  | { readonly type: 'CompleteDecline'; readonly now: Date }
  | { readonly type: 'Fulfil'; readonly now: Date }
  | { readonly type: 'Cancel'; readonly now: Date }
  | { readonly type: 'CompleteCancellation'; readonly now: Date };

export type RedemptionRejection =
  | { readonly kind: 'IdempotencyKeyReused' }
  | { readonly kind: 'RedemptionNotFound' }
  | { readonly kind: 'InvalidTransition'; readonly status: RedemptionStatus; readonly wanted: string };

/**
 *   requested ─┬─ confirmed ─┬─ fulfilled
 *              │             └─ cancelling ── cancelled
 *              ├─ declined                     (nothing was taken)
 *              └─ declining ── declined        (paid, then refused stock: the points go back first)
 * Repeating the step that led to the current status is a no-op, so a resumed process can replay it.
 * Leaving `requested` is the one decision every driver of a redemption races for: whoever confirms,
 * declines or starts declining first decides, and the others undo what they took.
 */
export const redemptionDecider: Decider<RedemptionCommand, RedemptionEvent, RedemptionState, RedemptionRejection> = {
  initialState: () => ({}),
  evolve(state, event) {
    switch (event.type) {
      case 'RedemptionRequested': {
        const { requestedAt, ...request } = event.data;
        return { status: 'requested', request: { ...request, requestedAt } };
      }
      case 'RedemptionConfirmed':
        return { ...state, status: 'confirmed' };
      case 'RedemptionDeclineStarted':
        return { ...state, status: 'declining', declinedFor: event.data.reason };
      case 'RedemptionDeclined':
        return { ...state, status: 'declined', declinedFor: event.data.reason };
      case 'RedemptionFulfilled':
        return { ...state, status: 'fulfilled' };
      case 'RedemptionCancellationRequested':
        return { ...state, status: 'cancelling' };
      case 'RedemptionCancellationCompleted':
        return { ...state, status: 'cancelled' };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (command.type === 'Request') {
      if (state.request) return state.request.fingerprint === command.fingerprint ? accept() : reject({ kind: 'IdempotencyKeyReused' });
      const { redemptionId, userId, rewardId, cost, fingerprint, now } = command;
      return accept(RedemptionRequested({ redemptionId, userId, rewardId, cost, fingerprint, requestedAt: now.toISOString() }));
    }
    const { status, request } = state;
    if (!status || !request) return reject({ kind: 'RedemptionNotFound' });
    const { redemptionId } = request;
    const at = command.now.toISOString();
    const step = (from: readonly RedemptionStatus[], to: RedemptionStatus, event: () => RedemptionEvent) =>
      status === to
        ? accept()
        : from.includes(status)
          ? accept(event())
          : reject({ kind: 'InvalidTransition' as const, status, wanted: to });
    switch (command.type) {
      case 'Confirm':
        return step(['requested'], 'confirmed', () => RedemptionConfirmed({ redemptionId, confirmedAt: at }));
      case 'Decline':
        return step(['requested'], 'declined', () => RedemptionDeclined({ redemptionId, reason: command.reason, declinedAt: at }));
      case 'StartDecline':
        return step(['requested'], 'declining', () => RedemptionDeclineStarted({ redemptionId, reason: command.reason, startedAt: at }));
      case 'CompleteDecline':
        return step(['declining'], 'declined', () =>
          RedemptionDeclined({ redemptionId, reason: state.declinedFor ?? 'OutOfStock', declinedAt: at }),
        );
      case 'Fulfil':
        return step(['confirmed'], 'fulfilled', () => RedemptionFulfilled({ redemptionId, fulfilledAt: at }));
      case 'Cancel':
        if (status === 'cancelled') return accept();
        return step(['confirmed'], 'cancelling', () => RedemptionCancellationRequested({ redemptionId, requestedAt: at }));
      case 'CompleteCancellation':
        return step(['cancelling'], 'cancelled', () => RedemptionCancellationCompleted({ redemptionId, completedAt: at }));
    }
  },
};
