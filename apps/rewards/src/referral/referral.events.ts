import { defineEvent, type EventOf } from '#cqrs';

/** A member's referral code, claimed for them (the code's stream is the claim: one referrer per code). */
export const ReferralCodeIssued = defineEvent<{ code: string; referrer: string; issuedAt: string }>()('ReferralCodeIssued');

/**
 * A referee's qualifying event named the code: both sides are rewarded, once (the wallets credit
 * `referral/<referralId>/<role>` lots from this event, idempotently). `sourceId` is the event that qualified.
 */
export const ReferralQualified = defineEvent<{
  code: string;
  referralId: string;
  referrer: string;
  referee: string;
  sourceId: string;
  referrerPoints: number;
  refereePoints: number;
  qualifiedAt: string;
}>()('ReferralQualified');

/** A referral turned down by a fraud guard or a limit, kept so that the loyalty manager can see it. */
export const ReferralRefused = defineEvent<{
  code: string;
  referee: string;
  sourceId: string;
  reason: 'self-referral' | 'same-email' | 'already-referred' | 'referrer-limit-reached';
  refusedAt: string;
}>()('ReferralRefused');

export type ReferralEvent = EventOf<typeof ReferralCodeIssued> | EventOf<typeof ReferralQualified> | EventOf<typeof ReferralRefused>;
export const referralEvents = [ReferralCodeIssued, ReferralQualified, ReferralRefused];
