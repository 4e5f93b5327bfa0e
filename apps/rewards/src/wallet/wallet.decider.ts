import { accept, reject, type Decider, type Decision } from '#cqrs';
import { BOUNDS } from '#platform';
import { campaignRuleId } from '../campaigns/campaign.events';
import { campaignAward, type CampaignOffer } from '../campaigns/campaign.rules';
import type { ProgramDefinition } from '../program/program.events';
import { awardPoints, matchingRules, qualifyingTier, tierRank, type SourceEvent } from '../program/program.rules';
import { addMonths, expiryOf } from '../shared/calendar';
import { remindExpiring, type RemindExpiring } from '../expiry/expiring';
import { clawBack, orderAmountOf, orderIdOf, repayOwed, type ClawBack, type RefundRejection } from './refund';
import {
  rewardReferral,
  transferIn,
  transferOut,
  type RewardReferral,
  type TransferIn,
  type TransferOut,
  type TransferRejection,
} from './transfer';
import {
  EnrolmentConsentRecorded,
  MemberEnrolled,
  MemberErased,
  PointsAdjusted,
  PointsEarned,
  PointsExpired,
  PointsRedeemed,
  RedemptionCancelled,
  TierAssigned,
  TierChanged,
  TierGraceStarted,
  TierRetained,
  type Allocation,
  type CampaignShare,
  type WalletEvent,
} from './wallet.events';
import {
  adjustmentFingerprint,
  availablePoints,
  dayKey,
  earnedSince,
  emptyWallet,
  EVERY_RULE,
  evolveWallet,
  monthKey,
  spendableLots,
  type WalletState,
} from './wallet.state';

export type WalletCommand =
  | { readonly type: 'Enrol'; readonly userId: string; readonly now: Date }
  /** Enrolment the member asked for, with their consent to the program's terms (see enrolment.http.ts). */
  | { readonly type: 'EnrolWithConsent'; readonly userId: string; readonly channel: string; readonly now: Date }
  /** `now` is when the source event was recorded, so a replay decides exactly as the first delivery did. */
  | {
      readonly type: 'Earn';
      readonly userId: string;
      readonly source: SourceEvent;
      readonly program?: ProgramDefinition;
      /** The campaigns the event matched, each with the most it may give (its share of the campaign's budget). */
      readonly campaigns?: readonly CampaignOffer[];
      readonly now: Date;
    }
  | {
      readonly type: 'Redeem';
      readonly userId: string;
      readonly redemptionId: string;
      readonly rewardId: string;
      readonly points: number;
      readonly now: Date;
    }
  | { readonly type: 'CancelRedemption'; readonly userId: string; readonly redemptionId: string; readonly now: Date }
  | { readonly type: 'ExpirePoints'; readonly userId: string; readonly now: Date }
  | {
      readonly type: 'Adjust';
      readonly userId: string;
      readonly adjustmentId: string;
      readonly points: number;
      readonly reason: string;
      readonly actor: string;
      readonly program?: ProgramDefinition;
      readonly now: Date;
    }
  | { readonly type: 'ReviewTier'; readonly userId: string; readonly program?: ProgramDefinition; readonly now: Date }
  /** An operator's tier for the member, with an audit reason (sealed as the member's personal data). */
  | {
      readonly type: 'AssignTier';
      readonly userId: string;
      readonly tier: string;
      readonly reason: string;
      readonly actor: string;
      readonly program?: ProgramDefinition;
      readonly now: Date;
    }
  /** An order refunded or returned (see refund.ts). */
  | ClawBack
  /** A member gives points to another (see transfer.ts). */
  | TransferOut
  | TransferIn
  | RewardReferral
  | RemindExpiring
  /** Register erased the person; `now` is when register recorded it. */
  | { readonly type: 'Erase'; readonly userId: string; readonly now: Date };

export type WalletRejection =
  | { readonly kind: 'UnknownMember'; readonly userId: string }
  | { readonly kind: 'InsufficientPoints'; readonly available: number; readonly requested: number }
  | { readonly kind: 'UnknownRedemption'; readonly redemptionId: string }
  /** The Idempotency-Key of an earlier adjustment, sent with another body. */
  | { readonly kind: 'IdempotencyKeyReused' }
  /** A positive adjustment would take the wallet past what it may hold (BOUNDS.pointsTotal). */
  | { readonly kind: 'WalletLimitReached'; readonly limit: number; readonly held: number }
  /** A tier the program does not have. */
  | { readonly kind: 'UnknownTier'; readonly tier: string }
  | RefundRejection
  | TransferRejection;

type WalletDecision = Decision<WalletEvent, WalletRejection>;

export const walletDecider: Decider<WalletCommand, WalletEvent, WalletState, WalletRejection> = {
  initialState: emptyWallet,
  evolve: evolveWallet,
  decide(command, state) {
    // An erased person's wallet only answers: nothing earns, expires or comes back to it any more.
    if (state.erased)
      return command.type === 'Redeem' ||
        command.type === 'Adjust' ||
        command.type === 'ClawBack' ||
        command.type === 'AssignTier' ||
        command.type.startsWith('Transfer') ||
        command.type === 'EnrolWithConsent'
        ? reject({ kind: 'UnknownMember', userId: command.userId })
        : accept();
    switch (command.type) {
      case 'Enrol':
        return state.enrolled ? accept() : accept(MemberEnrolled({ userId: command.userId, enrolledAt: command.now.toISOString() }));
      case 'EnrolWithConsent': {
        // Consent is recorded once: enrolling again changes nothing (the first consent stands).
        if (state.consentRecordedAt !== null) return accept();
        const { userId, channel, now } = command;
        const at = now.toISOString();
        return accept(
          ...(state.enrolled ? [] : [MemberEnrolled({ userId, enrolledAt: at })]),
          EnrolmentConsentRecorded({ userId, consent: true, channel, recordedAt: at }),
        );
      }
      case 'Earn':
        return earn(command, state);
      case 'Redeem':
        return redeem(command, state);
      case 'CancelRedemption': {
        const redemption = state.redemptions.get(command.redemptionId);
        if (!redemption) return reject({ kind: 'UnknownRedemption', redemptionId: command.redemptionId });
        if (redemption.cancelled) return accept();
        const { userId, redemptionId, now } = command;
        // Points given back to lots still spendable pay what the member owes first.
        const spendable = redemption.lots.filter(({ lotId }) => {
          const lot = state.lots.get(lotId);
          return lot !== undefined && (lot.expiresAt === null || lot.expiresAt > now.toISOString());
        });
        return accept(
          RedemptionCancelled({ userId, redemptionId, points: redemption.points, lots: redemption.lots, cancelledAt: now.toISOString() }),
          ...repayOwed(state, userId, spendable, now),
        );
      }
      case 'ExpirePoints': {
        const at = command.now.toISOString();
        const due = [...state.lots.values()].filter((lot) => lot.remaining > 0 && lot.expiresAt !== null && lot.expiresAt <= at);
        return accept(
          ...due.map((lot) => PointsExpired({ userId: command.userId, lotId: lot.lotId, points: lot.remaining, expiredAt: at })),
        );
      }
      case 'Adjust':
        return adjust(command, state);
      case 'ReviewTier':
        return reviewTier(command, state);
      case 'AssignTier':
        return assignTier(command, state);
      case 'Erase':
        return accept(MemberErased({ userId: command.userId, erasedAt: command.now.toISOString() }));
      case 'ClawBack':
        return clawBack(command, state);
      case 'TransferOut':
        return transferOut(command, state, consumeFirstToExpire);
      case 'TransferIn':
        return transferIn(command, state);
      case 'RewardReferral':
        return rewardReferral(command, state);
      case 'RemindExpiring':
        return remindExpiring(command, state);
    }
  },
};

function earn(command: Extract<WalletCommand, { type: 'Earn' }>, state: WalletState): WalletDecision {
  const { userId, source, now } = command;
  const offers = command.campaigns ?? [];
  if (state.sources.has(source.id)) return accept();
  const at = now.toISOString();
  const events: WalletEvent[] = state.enrolled ? [] : [MemberEnrolled({ userId, enrolledAt: at })];
  // Campaigns need no program of their own: a bonus on an event no rule names still earns.
  if (!command.program && offers.length === 0) return accept(...events);
  const program = command.program ?? NO_PROGRAM;
  const expiresAt = expiryOf(program.expiry, now)?.toISOString() ?? null;
  const [day, month] = [at.slice(0, 10), at.slice(0, 7)];
  const used = (key: string) => state.capUsage.get(key) ?? 0;
  const rules = matchingRules(program, source);
  const orderId = orderIdOf(source.properties) ?? null;
  const orderAmount = orderId === null ? null : (orderAmountOf(source.properties) ?? null);
  const tiers = program.tiers;
  // Points earned in the tier window that ends now; only worked out when something may earn or a tier is due.
  const inWindow =
    tiers && (rules.length > 0 || offers.length > 0 || state.tier === null) ? earnedSince(state, addMonths(now, -tiers.periodMonths)) : 0;
  const counters = { day: used(dayKey(EVERY_RULE, day)), month: used(monthKey(EVERY_RULE, month)), inWindow };
  let room = earningRoom(program, state, counters);
  let earned = 0;
  const lots: { ruleId: string; points: number }[] = [];
  const benefit = tierMultiplier(program, state.tier);
  for (const rule of rules) {
    let points = Math.min(multiplied(awardPoints(rule.award, source.properties), benefit), room);
    if (rule.caps?.perDay !== undefined) points = Math.min(points, rule.caps.perDay - used(dayKey(rule.id, day)));
    if (rule.caps?.perMonth !== undefined) points = Math.min(points, rule.caps.perMonth - used(monthKey(rule.id, month)));
    if (points <= 0) continue;
    earned += points;
    room -= points;
    lots.push({ ruleId: rule.id, points });
  }
  const shares = campaignShares(
    offers,
    state,
    earned,
    orderId,
    // One event's lot stays within one award's worth, as the rules' own lots do.
    Math.min(BOUNDS.points, BOUNDS.pointsTotal - Math.max(state.held, counters.month, inWindow)) - earned,
  );
  const fromCampaigns = shares.reduce((sum, share) => sum + share.points, 0);
  // Campaign points ride on the event's first lot (or one of their own): one event in the log either way.
  if (shares.length > 0 && lots.length === 0) lots.push({ ruleId: campaignRuleId(shares[0]!.campaignId), points: 0 });
  earned += fromCampaigns;
  lots.forEach(({ ruleId, points }, index) => {
    const data = {
      userId,
      lotId: `${source.id}/${ruleId}`,
      points,
      sourceEventId: source.id,
      ruleId,
      earnedAt: at,
      expiresAt,
      orderId,
      orderAmount,
    };
    events.push(PointsEarned(index === 0 && shares.length > 0 ? { ...data, points: points + fromCampaigns, campaigns: shares } : data));
  });
  if (earned > 0 && state.owed > 0)
    events.push(
      ...repayOwed(
        state,
        userId,
        events.flatMap((event) => (event.type === 'PointsEarned' ? [{ lotId: event.data.lotId, points: event.data.points }] : [])),
        now,
      ),
    );
  if (tiers && (earned > 0 || state.tier === null)) {
    // Upgrades take effect at once: the new points count towards the window that ends now.
    const qualified = qualifyingTier(tiers.levels, inWindow + earned);
    if (qualified && tierRank(tiers.levels, qualified.name) > tierRank(tiers.levels, state.tier)) {
      events.push(
        TierChanged({
          userId,
          from: state.tier,
          to: qualified.name,
          reason: 'upgrade',
          reviewAt: addMonths(now, tiers.periodMonths).toISOString(),
          changedAt: at,
        }),
      );
    }
  }
  return accept(...events);
}

/**
 * What each campaign adds to an event the rules earned `base` points on: past the program's limits
 * but within the campaign's own, its allowance (its budget's share) and `storable` (what the
 * wallet may still hold).
 */
function campaignShares(
  offers: readonly CampaignOffer[],
  state: WalletState,
  base: number,
  orderId: string | null,
  storable: number,
): CampaignShare[] {
  const shares: CampaignShare[] = [];
  let room = Math.max(0, storable);
  const orderSeen = orderId !== null && state.orders.has(orderId);
  for (const { campaign, allowance } of offers) {
    const usage = state.campaignUsage.get(campaign.campaignId) ?? { awards: 0, points: 0 };
    const standing = { tier: state.tier, ...usage, orders: state.orders.size, orderId, orderSeen };
    const points = Math.min(campaignAward(campaign, base, standing), allowance, room);
    if (points <= 0) continue;
    room -= points;
    shares.push({ campaignId: campaign.campaignId, points });
  }
  return shares;
}

/** What earns when a tenant has campaigns but no program yet. */
const NO_PROGRAM: ProgramDefinition = { rules: [], tiers: null, expiry: null, limits: {}, refunds: { allowNegativeBalance: false } };

/**
 * What one more source event may still earn this member, every rule together: one event's worth
 * at most (BOUNDS.points, or the program's lower `maxPointsPerEvent`), what is left of the
 * program's limits per member per UTC day and month, and what keeps the wallet and its period
 * counters (this month's earnings, the tier window) within what storage holds (BOUNDS.pointsTotal).
 * Earning past any of them is cut to what fits, then earns nothing.
 */
function earningRoom(program: ProgramDefinition, state: WalletState, earnedIn: { day: number; month: number; inWindow: number }): number {
  const { maxPointsPerEvent, perMemberPerDay, perMemberPerMonth } = program.limits;
  return Math.max(
    0,
    Math.min(
      BOUNDS.points,
      maxPointsPerEvent ?? BOUNDS.points,
      (perMemberPerDay ?? Number.POSITIVE_INFINITY) - earnedIn.day,
      (perMemberPerMonth ?? Number.POSITIVE_INFINITY) - earnedIn.month,
      BOUNDS.pointsTotal - Math.max(state.held, earnedIn.month, earnedIn.inWindow),
    ),
  );
}

function redeem(command: Extract<WalletCommand, { type: 'Redeem' }>, state: WalletState): WalletDecision {
  const { userId, redemptionId, rewardId, points, now } = command;
  if (state.redemptions.has(redemptionId)) return accept();
  if (!state.enrolled) return reject({ kind: 'UnknownMember', userId });
  // A member who owes (a refund took them below zero) spends nothing until it is paid.
  const lots = availablePoints(state, now) >= points ? consumeFirstToExpire(state, points, now) : undefined;
  if (!lots) return reject({ kind: 'InsufficientPoints', available: availablePoints(state, now), requested: points });
  return accept(PointsRedeemed({ userId, redemptionId, rewardId, points, lots, redeemedAt: now.toISOString() }));
}

function adjust(command: Extract<WalletCommand, { type: 'Adjust' }>, state: WalletState): WalletDecision {
  const { userId, adjustmentId, points, reason, actor, program, now } = command;
  const earlier = state.adjustments.get(adjustmentId);
  if (earlier)
    return earlier.fingerprint === adjustmentFingerprint(points, reason, actor) ? accept() : reject({ kind: 'IdempotencyKeyReused' });
  if (!state.enrolled) return reject({ kind: 'UnknownMember', userId });
  const adjustedAt = now.toISOString();
  if (points > 0) {
    // An operator is told, rather than having the points cut to what fits.
    if (state.held + points > BOUNDS.pointsTotal)
      return reject({ kind: 'WalletLimitReached', limit: BOUNDS.pointsTotal, held: state.held });
    const expiresAt = expiryOf(program?.expiry, now)?.toISOString() ?? null;
    const lots = [{ lotId: `adjustment/${adjustmentId}`, points }];
    return accept(
      PointsAdjusted({ userId, adjustmentId, points, reason, actor, lots, expiresAt, adjustedAt }),
      ...repayOwed(state, userId, lots, now),
    );
  }
  const lots = availablePoints(state, now) >= -points ? consumeFirstToExpire(state, -points, now) : undefined;
  if (!lots) return reject({ kind: 'InsufficientPoints', available: availablePoints(state, now), requested: -points });
  return accept(PointsAdjusted({ userId, adjustmentId, points, reason, actor, lots, expiresAt: null, adjustedAt }));
}

/**
 * At the end of a tier period the member keeps the tier the last period's points qualify for. One
 * found below their tier, under a program with `graceMonths`, keeps it that much longer first
 * (TierGraceStarted), once: the review at the grace's end decides on the period that ends then.
 */
function reviewTier(command: Extract<WalletCommand, { type: 'ReviewTier' }>, state: WalletState): WalletDecision {
  const { userId, program, now } = command;
  const tiers = program?.tiers;
  const at = now.toISOString();
  if (!tiers || state.tierReviewAt === null || at < state.tierReviewAt) return accept();
  const qualified = qualifyingTier(tiers.levels, earnedSince(state, addMonths(now, -tiers.periodMonths)))?.name ?? null;
  const reviewAt = addMonths(now, tiers.periodMonths).toISOString();
  if (qualified === state.tier) return accept(TierRetained({ userId, tier: qualified, reviewAt, reviewedAt: at }));
  const reason = tierRank(tiers.levels, qualified) < tierRank(tiers.levels, state.tier) ? 'downgrade' : 'upgrade';
  if (reason === 'downgrade' && tiers.graceMonths !== undefined && !state.tierGrace) {
    const graceEnds = addMonths(now, tiers.graceMonths).toISOString();
    return accept(TierGraceStarted({ userId, tier: state.tier, qualifiesFor: qualified, reviewAt: graceEnds, startedAt: at }));
  }
  return accept(TierChanged({ userId, from: state.tier, to: qualified, reason, reviewAt, changedAt: at }));
}

/** An operator's tier for the member, with the reason; the next review is a period away. */
function assignTier(command: Extract<WalletCommand, { type: 'AssignTier' }>, state: WalletState): WalletDecision {
  const { userId, tier, reason, actor, program, now } = command;
  if (!state.enrolled) return reject({ kind: 'UnknownMember', userId });
  const tiers = program?.tiers;
  if (!tiers || !tiers.levels.some((level) => level.name === tier)) return reject({ kind: 'UnknownTier', tier });
  // The same tier again (a retried call) changes nothing.
  if (state.tier === tier) return accept();
  const reviewAt = addMonths(now, tiers.periodMonths).toISOString();
  return accept(TierAssigned({ userId, from: state.tier, to: tier, reason, actor, reviewAt, assignedAt: now.toISOString() }));
}

/** The earning multiplier the member's tier gives (a benefit of the tier; 1 without one). */
function tierMultiplier(program: ProgramDefinition, tier: string | null): number {
  return tier === null ? 1 : (program.tiers?.levels.find((level) => level.name === tier)?.earningMultiplier ?? 1);
}

/** Points times a multiplier, rounded down, within one award's worth. */
function multiplied(points: number, multiplier: number): number {
  // toFixed first: 0.1 * 3 is 0.30000000000000004 in binary, and 10 * 1.1 must not floor to 10.
  return multiplier === 1 ? points : Math.min(BOUNDS.points, Math.floor(Number((points * multiplier).toFixed(6))));
}

/** Takes `points` from the lots that expire first, or undefined when the spendable lots fall short. */
function consumeFirstToExpire(state: WalletState, points: number, now: Date): Allocation[] | undefined {
  const allocations: Allocation[] = [];
  let missing = points;
  for (const lot of spendableLots(state, now)) {
    if (missing === 0) break;
    const taken = Math.min(lot.remaining, missing);
    allocations.push({ lotId: lot.lotId, points: taken });
    missing -= taken;
  }
  return missing === 0 ? allocations : undefined;
}

export { availablePoints, spendableLots };
export type { WalletState };
