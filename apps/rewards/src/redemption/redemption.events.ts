import { defineEvent, type EventOf } from '#cqrs';

/**
 * The redemption's own stream is its process log: it is written first, so whichever request or
 * sweep finds it unfinished can drive the same idempotent steps (wallet, then stock) to the end.
 */
export const RedemptionRequested = defineEvent<{
  redemptionId: string;
  userId: string;
  rewardId: string;
  cost: number;
  /** SHA-256 of what the Idempotency-Key was first used for; another use of the key is refused. */
  fingerprint: string;
  requestedAt: string;
}>()('RedemptionRequested');

export const RedemptionConfirmed = defineEvent<{ redemptionId: string; confirmedAt: string }>()('RedemptionConfirmed');

/**
 * The member paid but the stock was refused: the redemption will be declined for `reason` once
 * the points (and anything else it holds) are given back. Recorded before the refund, so that no
 * other driver of the same redemption can confirm it meanwhile, and a crash leaves it for the sweep.
 */
export const RedemptionDeclineStarted = defineEvent<{ redemptionId: string; reason: string; startedAt: string }>()(
  'RedemptionDeclineStarted',
);

/** `reason` is the rejection kind the answer is rebuilt from when the same key comes back. */
export const RedemptionDeclined = defineEvent<{ redemptionId: string; reason: string; declinedAt: string }>()('RedemptionDeclined');

export const RedemptionFulfilled = defineEvent<{ redemptionId: string; fulfilledAt: string }>()('RedemptionFulfilled');

export const RedemptionCancellationRequested = defineEvent<{ redemptionId: string; requestedAt: string }>()(
  'RedemptionCancellationRequested',
);

export const RedemptionCancellationCompleted = defineEvent<{ redemptionId: string; completedAt: string }>()(
  'RedemptionCancellationCompleted',
);

export type RedemptionEvent =
  | EventOf<typeof RedemptionRequested>
  | EventOf<typeof RedemptionConfirmed>
  | EventOf<typeof RedemptionDeclineStarted>
  | EventOf<typeof RedemptionDeclined>
  | EventOf<typeof RedemptionFulfilled>
  | EventOf<typeof RedemptionCancellationRequested>
  | EventOf<typeof RedemptionCancellationCompleted>;

export const redemptionEvents = [
  RedemptionRequested,
  RedemptionConfirmed,
  RedemptionDeclineStarted,
  RedemptionDeclined,
  RedemptionFulfilled,
  RedemptionCancellationRequested,
  RedemptionCancellationCompleted,
];
