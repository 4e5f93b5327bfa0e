import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

/** Points taken from (or given back to) one lot. Events carry them so every reader agrees on lots. */
export interface Allocation {
  lotId: string;
  points: number;
}

/** Points one campaign added to an event. */
export interface CampaignShare {
  campaignId: string;
  points: number;
}

export const MemberEnrolled = defineEvent<{ userId: string; enrolledAt: string }>()('MemberEnrolled');

/**
 * One lot per (source event, rule): `sourceEventId` is what makes a redelivered event earn nothing.
 * Version 2 names the order the points were earned for (`properties.order_id`, Segment's name) and
 * its amount (`properties.total`), so a refund finds them; version 1 lots belong to no order.
 * `campaigns` (absent: none) is what campaigns added to the event, included in `points`: they ride
 * on the event's first lot, or on a lot of their own (rule `campaign:<first id>`) when no rule
 * earned, so campaigns add points to the log without adding events to it.
 */
export const PointsEarned = defineEvent<{
  userId: string;
  lotId: string;
  points: number;
  sourceEventId: string;
  ruleId: string;
  earnedAt: string;
  expiresAt: string | null;
  orderId: string | null;
  orderAmount: number | null;
  campaigns?: CampaignShare[];
}>()('PointsEarned', { version: 2, upcasters: { 1: (data) => ({ ...data, orderId: null, orderAmount: null }) } });

/**
 * An order was refunded or returned (all of it, or `amount` of it): `points` of what it earned are
 * taken back: `expired` of them had expired from the order's own lots already (gone, not taken
 * again), `lots` from the wallet (the order's own lots first, then those that expire first),
 * `owed` beyond the balance where the program lets it go negative, and `shortfall` where it does
 * not (recorded, not taken). `refundId` (the tracked message, or the API call's Idempotency-Key)
 * makes the same refund claw once; `fingerprint` binds an API key to its body.
 */
export const PointsClawedBack = defineEvent<{
  userId: string;
  refundId: string;
  orderId: string;
  cause: 'refund' | 'return';
  amount: number | null;
  points: number;
  expired: number;
  lots: Allocation[];
  owed: number;
  shortfall: number;
  fingerprint: string;
  clawedBackAt: string;
}>()('PointsClawedBack');

/** Points that came in while the balance was negative go to what the member owed first. */
export const OwedPointsRepaid = defineEvent<{ userId: string; points: number; lots: Allocation[]; repaidAt: string }>()('OwedPointsRepaid');

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
 * A review found the member below their tier, and the program gives them `graceMonths` to earn it
 * back: they keep `tier` until `reviewAt`, when the review decides again without grace.
 */
export const TierGraceStarted = defineEvent<{
  userId: string;
  tier: string | null;
  qualifiesFor: string | null;
  reviewAt: string;
  startedAt: string;
}>()('TierGraceStarted');

/**
 * An operator set the member's tier by hand (a goodwill upgrade, a fraud downgrade); the next
 * review is a period away. The reason is free text about the member: sealed under their key.
 */
export const TierAssigned = defineEvent<{
  userId: string;
  from: string | null;
  to: string;
  reason: string;
  actor: string;
  reviewAt: string;
  assignedAt: string;
}>()('TierAssigned', { personalData: { subject: (data: JsonObject) => String(data.userId), fields: ['reason'] } });

/**
 * Register erased the person. The wallet keeps its history of amounts and dates (the adjustment
 * reasons, sealed under the person's key, are shredded with it) but is closed: it earns nothing
 * more, spends nothing, and is no longer shown as a member. Carries no personal data.
 */
export const MemberErased = defineEvent<{ userId: string; erasedAt: string }>()('MemberErased');

/**
 * Points given to another member of the tenant (`to`), taken from the lots that expire first; the
 * recipient's lot expires when the soonest of them would have (`expiresAt`), so a transfer never
 * makes points last longer. `fingerprint` binds the Idempotency-Key to its body.
 */
export const PointsTransferredOut = defineEvent<{
  userId: string;
  transferId: string;
  to: string;
  points: number;
  lots: Allocation[];
  expiresAt: string | null;
  fingerprint: string;
  transferredAt: string;
}>()('PointsTransferredOut');

/**
 * The other half of a transfer, on the recipient's wallet: one lot (`lotId` is `transfer/<id>`, which
 * makes a second delivery credit nothing). `returned` is a transfer the recipient's wallet refused
 * (closed meanwhile, or full), given back to its sender.
 */
export const PointsTransferredIn = defineEvent<{
  userId: string;
  transferId: string;
  from: string;
  points: number;
  lotId: string;
  expiresAt: string | null;
  returned: boolean;
  receivedAt: string;
}>()('PointsTransferredIn');

/** One side of a referral rewarded: one lot (`referral/<referralId>/<role>`), so a second delivery credits nothing. */
export const ReferralRewarded = defineEvent<{
  userId: string;
  referralId: string;
  role: 'referrer' | 'referee';
  points: number;
  lotId: string;
  expiresAt: string | null;
  rewardedAt: string;
}>()('ReferralRewarded');

/** A lot expires within the program's `remindDaysBefore`: said once per lot, for reminder mails and webhooks. */
export const PointsExpiringSoon = defineEvent<{ userId: string; lotId: string; points: number; expiresAt: string; remindedAt: string }>()(
  'PointsExpiringSoon',
);

/**
 * The member agreed to the program's terms when they enrolled explicitly (the shop's sign-up form
 * for the loyalty program). Recorded beside `MemberEnrolled`, once; members enrolled by earning have none.
 */
export const EnrolmentConsentRecorded = defineEvent<{ userId: string; consent: true; channel: string; recordedAt: string }>()(
  'EnrolmentConsentRecorded',
);

export type WalletEvent =
  | EventOf<typeof MemberEnrolled>
  | EventOf<typeof PointsEarned>
  | EventOf<typeof PointsRedeemed>
  | EventOf<typeof RedemptionCancelled>
  | EventOf<typeof PointsExpired>
  | EventOf<typeof PointsAdjusted>
  | EventOf<typeof TierChanged>
  | EventOf<typeof TierRetained>
  | EventOf<typeof MemberErased>
  | EventOf<typeof PointsClawedBack>
  | EventOf<typeof OwedPointsRepaid>
  | EventOf<typeof PointsTransferredOut>
  | EventOf<typeof PointsTransferredIn>
  | EventOf<typeof ReferralRewarded>
  | EventOf<typeof PointsExpiringSoon>
  | EventOf<typeof EnrolmentConsentRecorded>
  | EventOf<typeof TierGraceStarted>
  | EventOf<typeof TierAssigned>;

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
  PointsClawedBack,
  OwedPointsRepaid,
  PointsTransferredOut,
  PointsTransferredIn,
  ReferralRewarded,
  PointsExpiringSoon,
  EnrolmentConsentRecorded,
  TierGraceStarted,
  TierAssigned,
];
