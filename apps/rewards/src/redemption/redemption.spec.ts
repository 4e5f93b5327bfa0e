import { given } from '#cqrs/testing';
import { redemptionDecider } from './redemption.decider';
import {
  RedemptionCancellationCompleted,
  RedemptionCancellationRequested,
  RedemptionConfirmed,
  RedemptionDeclineStarted,
  RedemptionDeclined,
  RedemptionFulfilled,
  RedemptionRequested,
} from './redemption.events';

const now = new Date('2026-06-01T00:00:00.000Z');
const at = now.toISOString();
const requested = RedemptionRequested({ redemptionId: 'r', userId: 'u', rewardId: 'w', cost: 10, fingerprint: 'f', requestedAt: at });
const confirmed = RedemptionConfirmed({ redemptionId: 'r', confirmedAt: at });
const request = (fingerprint = 'f') => ({
  type: 'Request' as const,
  redemptionId: 'r',
  userId: 'u',
  rewardId: 'w',
  cost: 10,
  fingerprint,
  now,
});

describe('redemption', () => {
  test('the same idempotency key for the same request is one redemption; for another request it is refused', () => {
    given(redemptionDecider, []).when(request()).then([requested]);
    given(redemptionDecider, [requested, confirmed]).when(request()).thenNothingHappens();
    given(redemptionDecider, [requested]).when(request('other')).thenRejects({ kind: 'IdempotencyKeyReused' });
  });

  test('a requested redemption is confirmed or declined, and repeating the step changes nothing', () => {
    given(redemptionDecider, [requested]).when({ type: 'Confirm', now }).then([confirmed]);
    given(redemptionDecider, [requested, confirmed]).when({ type: 'Confirm', now }).thenNothingHappens();
    given(redemptionDecider, [requested])
      .when({ type: 'Decline', reason: 'OutOfStock', now })
      .then([RedemptionDeclined({ redemptionId: 'r', reason: 'OutOfStock', declinedAt: at })]);
    given(redemptionDecider, [requested, confirmed])
      .when({ type: 'Decline', reason: 'OutOfStock', now })
      .thenRejects({ kind: 'InvalidTransition', status: 'confirmed' });
  });

  test('only a confirmed redemption is fulfilled or cancelled', () => {
    given(redemptionDecider, [requested, confirmed])
      .when({ type: 'Fulfil', now })
      .then([RedemptionFulfilled({ redemptionId: 'r', fulfilledAt: at })]);
    given(redemptionDecider, [requested, confirmed])
      .when({ type: 'Cancel', now })
      .then([RedemptionCancellationRequested({ redemptionId: 'r', requestedAt: at })]);
    const fulfilled = RedemptionFulfilled({ redemptionId: 'r', fulfilledAt: at });
    given(redemptionDecider, [requested, confirmed, fulfilled])
      .when({ type: 'Cancel', now })
      .thenRejects({ kind: 'InvalidTransition', status: 'fulfilled' });
    given(redemptionDecider, [requested]).when({ type: 'Fulfil', now }).thenRejects({ kind: 'InvalidTransition', status: 'requested' });
    given(redemptionDecider, []).when({ type: 'Fulfil', now }).thenRejects({ kind: 'RedemptionNotFound' });
  });

  test('a cancellation completes once its compensations are done, and cancelling again is a no-op', () => {
    const cancelling = RedemptionCancellationRequested({ redemptionId: 'r', requestedAt: at });
    const cancelled = RedemptionCancellationCompleted({ redemptionId: 'r', completedAt: at });
    given(redemptionDecider, [requested, confirmed, cancelling]).when({ type: 'CompleteCancellation', now }).then([cancelled]);
    given(redemptionDecider, [requested, confirmed, cancelling, cancelled]).when({ type: 'Cancel', now }).thenNothingHappens();
  });

  test('paid, then refused stock: the decline starts with its reason, and completes (once) when the points are back', () => {
    const declining = RedemptionDeclineStarted({ redemptionId: 'r', reason: 'OutOfStock', startedAt: at });
    given(redemptionDecider, [requested]).when({ type: 'StartDecline', reason: 'OutOfStock', now }).then([declining]);
    given(redemptionDecider, [requested, declining])
      .when({ type: 'CompleteDecline', now })
      .then([RedemptionDeclined({ redemptionId: 'r', reason: 'OutOfStock', declinedAt: at })]);
    given(redemptionDecider, [requested, declining, RedemptionDeclined({ redemptionId: 'r', reason: 'OutOfStock', declinedAt: at })])
      .when({ type: 'CompleteDecline', now })
      .thenNothingHappens();
  });

  test('leaving requested is decided once: a redemption declining cannot be confirmed, a confirmed one cannot start declining', () => {
    const declining = RedemptionDeclineStarted({ redemptionId: 'r', reason: 'OutOfStock', startedAt: at });
    given(redemptionDecider, [requested, declining])
      .when({ type: 'Confirm', now })
      .thenRejects({ kind: 'InvalidTransition', status: 'declining' });
    given(redemptionDecider, [requested, confirmed])
      .when({ type: 'StartDecline', reason: 'OutOfStock', now })
      .thenRejects({ kind: 'InvalidTransition', status: 'confirmed' });
    given(redemptionDecider, [requested, RedemptionDeclined({ redemptionId: 'r', reason: 'InsufficientPoints', declinedAt: at })])
      .when({ type: 'StartDecline', reason: 'OutOfStock', now })
      .thenRejects({ kind: 'InvalidTransition', status: 'declined' });
  });
});
