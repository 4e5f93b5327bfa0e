import { defineEvent, type EventOf } from '#cqrs';

/**
 * The redemption's own stream is its process log: it is written first, so whichever request or
 * sweep finds it unfinished can drive the same idempotent steps (stock, then wallet) to the end.
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
  | EventOf<typeof RedemptionDeclined>
  | EventOf<typeof RedemptionFulfilled>
  | EventOf<typeof RedemptionCancellationRequested>
  | EventOf<typeof RedemptionCancellationCompleted>;

export const redemptionEvents = [
  RedemptionRequested,
  RedemptionConfirmed,
  RedemptionDeclined,
  RedemptionFulfilled,
  RedemptionCancellationRequested,
  RedemptionCancellationCompleted,
];
