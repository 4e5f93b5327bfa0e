import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

/** Points taken from (or given back to) one lot. Events carry them so every reader agrees on lots. */
export interface Allocation {
  lotId: string;
  points: number;
}

export const MemberEnrolled = defineEvent<{ userId: string; enrolledAt: string }>()('MemberEnrolled');

/** One lot per (source event, rule): `sourceEventId` is what makes a redelivered event earn nothing. */
export const PointsEarned = defineEvent<{
  userId: string;
  lotId: string;
  points: number;
  sourceEventId: string;
  ruleId: string;
  earnedAt: string;
  expiresAt: string | null;
}>()('PointsEarned');

export const PointsRedeemed = defineEvent<{
  userId: string;
  redemptionId: string;
  rewardId: string;
  points: number;
  lots: Allocation[];
  redeemedAt: string;
}>()('PointsRedeemed');

/** Gives the points back to the lots they came from, with their original expiry. */
export const RedemptionCancelled = defineEvent<{
  userId: string;
  redemptionId: string;
  points: number;
  lots: Allocation[];
  cancelledAt: string;
}>()('RedemptionCancelled');

export const PointsExpired = defineEvent<{ userId: string; lotId: string; points: number; expiredAt: string }>()('PointsExpired');

/** The reason is free text an operator wrote about the member: sealed under the member's key. */
export const PointsAdjusted = defineEvent<{
  userId: string;
  adjustmentId: string;
  points: number;
  reason: string;
  actor: string;
  lots: Allocation[];
  expiresAt: string | null;
  adjustedAt: string;
}>()('PointsAdjusted', { personalData: { subject: (data: JsonObject) => String(data.userId), fields: ['reason'] } });

export const TierChanged = defineEvent<{
  userId: string;
  from: string | null;
  to: string | null;
  reason: 'upgrade' | 'downgrade';
  reviewAt: string;
  changedAt: string;
}>()('TierChanged');

/** A review at the end of a tier period that kept the tier: starts the next period. */
export const TierRetained = defineEvent<{ userId: string; tier: string | null; reviewAt: string; reviewedAt: string }>()('TierRetained');

/**
 * Register erased the person. The wallet keeps its history of amounts and dates (the adjustment
 * reasons, sealed under the person's key, are shredded with it) but is closed: it earns nothing
 * more, spends nothing, and is no longer shown as a member. Carries no personal data.
 */
export const MemberErased = defineEvent<{ userId: string; erasedAt: string }>()('MemberErased');

export type WalletEvent =
  | EventOf<typeof MemberEnrolled>
  | EventOf<typeof PointsEarned>
  | EventOf<typeof PointsRedeemed>
  | EventOf<typeof RedemptionCancelled>
  | EventOf<typeof PointsExpired>
  | EventOf<typeof PointsAdjusted>
  | EventOf<typeof TierChanged>
  | EventOf<typeof TierRetained>
  | EventOf<typeof MemberErased>;

export const walletEvents = [
  MemberEnrolled,
  PointsEarned,
  PointsRedeemed,
  RedemptionCancelled,
  PointsExpired,
  PointsAdjusted,
  TierChanged,
  TierRetained,
  MemberErased,
];
