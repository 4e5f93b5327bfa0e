import { createHash } from 'node:crypto';
import type { Allocation, WalletEvent } from './wallet.events';

export interface Lot {
  readonly lotId: string;
  remaining: number;
  readonly earnedAt: string;
  readonly expiresAt: string | null;
}

/**
 * A member's wallet. Folding a busy wallet means thousands of events, so `evolve` hands its
 * collections on to the next state instead of copying them: a state is only ever evolved once,
 * by whoever holds the newest one.
 */
export interface WalletState {
  /** A member: enrolled and not erased. */
  readonly enrolled: boolean;
  /** The person was erased in register: the wallet is closed for good. */
  readonly erased: boolean;
  readonly lots: Map<string, Lot>;
  /** Points left in every lot, expired or not yet swept ones included: what the wallet holds at most. */
  readonly held: number;
  /** Source events that already earned points: the dedupe set behind "exactly one effect". */
  readonly sources: Set<string>;
  /** Points earned and when, for the tiers' rolling window. */
  readonly earnings: { at: string; points: number }[];
  /**
   * Points each rule gave per day (`rule|d|2026-11-23`) and month (`rule|m|2026-11`), for caps;
   * `*` for every rule together (the program's limits per member).
   */
  readonly capUsage: Map<string, number>;
  readonly redemptions: Map<string, { points: number; lots: Allocation[]; cancelled: boolean }>;
  /** Each adjustment as first made: what its Idempotency-Key stands for, and the answer it got. */
  readonly adjustments: Map<string, AdjustmentRecord>;
  readonly tier: string | null;
  readonly tierReviewAt: string | null;
  /** The member is in the grace a review gave them below their tier: the next review decides without it. */
  readonly tierGrace: boolean;
  /** What each order earned, by order id, and how much of it was refunded since. */
  readonly orders: Map<string, OrderRecord>;
  /** The order each order lot was earned for. */
  readonly orderOfLot: Map<string, string>;
  /** Each refund applied, by refund id: the same refund claws once. */
  readonly refunds: Map<string, RefundRecord>;
  /** Points taken back beyond the balance, where the program lets it go negative: the balance is the lots less this. */
  readonly owed: number;
  /** Each transfer sent, by transfer id: what its Idempotency-Key stands for, and the answer it got. */
  readonly transfersOut: Map<string, TransferRecord>;
  /** Points sent per UTC day (`2026-11-23`), for the program's daily transfer limit. */
  readonly transferredOnDay: Map<string, number>;
  /** Whether this member was rewarded as a referee (once in a lifetime). */
  readonly referred: boolean;
  /** Lots whose expiry reminder went out. */
  readonly reminded: Set<string>;
  /** When the member gave their consent on explicit enrolment (null: enrolled by earning, or not at all). */
  readonly consentRecordedAt: string | null;
  /** What each campaign gave this member (awards and points), for its per-member limits. */
  readonly campaignUsage: Map<string, { awards: number; points: number }>;
}

export interface TransferRecord {
  readonly fingerprint: string;
  readonly to: string;
  readonly points: number;
  /** The sender's spendable balance right after it. */
  readonly balance: number;
}

export interface OrderRecord {
  readonly lotIds: string[];
  earned: number;
  /** The order's amount when it earned (`total`), or null when it had none. */
  amount: number | null;
  readonly earnedAt: string;
  /** The member's tier before the order earned: a refund takes back the upgrade the order bought, never more. */
  readonly tierBefore: string | null;
  /** How much of the amount was refunded so far (the whole of it once a refund named no amount). */
  refunded: number;
  /** Points of the order taken back so far (from lots, owed, recorded short, or already expired): never more than `earned`. */
  clawedBack: number;
  /** Points of the order's own lots that expired: gone already, a refund does not take them again. */
  expired: number;
  /** How many of those refunds have counted so far. */
  expiredCounted: number;
}

export interface RefundRecord {
  readonly fingerprint: string;
  readonly orderId: string;
  readonly points: number;
  readonly taken: number;
  readonly expired: number;
  readonly owed: number;
  readonly shortfall: number;
  /** The balance right after it. */
  readonly balance: number;
}

export interface AdjustmentRecord {
  /** Digest of points, reason and actor (the reason is personal data: only its digest is kept here). */
  readonly fingerprint: string;
  readonly points: number;
  /** The spendable balance right after it. */
  readonly balance: number;
}

export function emptyWallet(): WalletState {
  return {
    enrolled: false,
    erased: false,
    lots: new Map(),
    held: 0,
    sources: new Set(),
    earnings: [],
    capUsage: new Map(),
    redemptions: new Map(),
    adjustments: new Map(),
    tier: null,
    tierReviewAt: null,
    tierGrace: false,
    orders: new Map(),
    orderOfLot: new Map(),
    refunds: new Map(),
    owed: 0,
    transfersOut: new Map(),
    transferredOnDay: new Map(),
    referred: false,
    reminded: new Set(),
    consentRecordedAt: null,
    campaignUsage: new Map(),
  };
}

/** How much of an order is refunded after a refund of `amount` (null: all that is left of it). */
export function refundedAfter(order: OrderRecord, amount: number | null): number {
  if (order.amount === null) return amount === null ? Number.POSITIVE_INFINITY : order.refunded + amount;
  return amount === null ? order.amount : Math.min(order.amount, order.refunded + amount);
}

export const dayKey = (ruleId: string, day: string) => `${ruleId}|d|${day}`;
export const monthKey = (ruleId: string, month: string) => `${ruleId}|m|${month}`;
/** The counters of every rule together; rule ids cannot be `*`. */
export const EVERY_RULE = '*';

/** What an adjustment's Idempotency-Key is bound to. */
export function adjustmentFingerprint(points: number, reason: string | null, actor: string): string {
  return createHash('sha256')
    .update(JSON.stringify([points, reason, actor]))
    .digest('hex');
}

export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'MemberEnrolled':
      return { ...state, enrolled: true };
    case 'PointsEarned': {
      const { lotId, points, earnedAt, expiresAt, sourceEventId, ruleId, orderId, orderAmount, campaigns = [] } = event.data;
      state.lots.set(lotId, { lotId, remaining: points, earnedAt, expiresAt });
      if (orderId !== null && orderId !== undefined) recordOrder(state, orderId, lotId, points, orderAmount ?? null, earnedAt);
      state.sources.add(sourceEventId);
      state.earnings.push({ at: earnedAt, points });
      let fromCampaigns = 0;
      for (const share of campaigns) {
        const usage = state.campaignUsage.get(share.campaignId) ?? { awards: 0, points: 0 };
        state.campaignUsage.set(share.campaignId, { awards: usage.awards + 1, points: usage.points + share.points });
        fromCampaigns += share.points;
      }
      // Caps and the program's limits per member count the rules' points: campaigns have limits of their own.
      const fromRules = points - fromCampaigns;
      const [day, month] = [earnedAt.slice(0, 10), earnedAt.slice(0, 7)];
      if (fromRules > 0)
        for (const key of [dayKey(ruleId, day), monthKey(ruleId, month), dayKey(EVERY_RULE, day), monthKey(EVERY_RULE, month)]) {
          state.capUsage.set(key, (state.capUsage.get(key) ?? 0) + fromRules);
        }
      return { ...state, enrolled: true, held: state.held + points };
    }
    case 'PointsRedeemed':
      state.redemptions.set(event.data.redemptionId, { points: event.data.points, lots: event.data.lots, cancelled: false });
      return { ...state, held: state.held - take(state, event.data.lots) };
    case 'RedemptionCancelled': {
      const redemption = state.redemptions.get(event.data.redemptionId);
      if (redemption) redemption.cancelled = true;
      return { ...state, held: state.held + give(state, event.data.lots) };
    }
    case 'PointsExpired': {
      const orderId = state.orderOfLot.get(event.data.lotId);
      const order = orderId === undefined ? undefined : state.orders.get(orderId);
      if (order) order.expired += event.data.points;
      return { ...state, held: state.held - take(state, [{ lotId: event.data.lotId, points: event.data.points }]) };
    }
    case 'PointsAdjusted': {
      const { adjustmentId, points, reason, actor, lots, adjustedAt, expiresAt } = event.data;
      let held = state.held;
      if (points > 0) {
        for (const lot of lots) state.lots.set(lot.lotId, { lotId: lot.lotId, remaining: lot.points, earnedAt: adjustedAt, expiresAt });
        held += points;
      } else held -= take(state, lots);
      const next = { ...state, held };
      const record = {
        fingerprint: adjustmentFingerprint(points, reason, actor),
        points,
        balance: availablePoints(next, new Date(adjustedAt)),
      };
      state.adjustments.set(adjustmentId, record);
      return next;
    }
    case 'TierChanged':
    case 'TierAssigned':
      return { ...state, tier: event.data.to, tierReviewAt: event.data.reviewAt, tierGrace: false };
    case 'TierRetained':
      return { ...state, tierReviewAt: event.data.reviewAt, tierGrace: false };
    case 'TierGraceStarted':
      return { ...state, tierReviewAt: event.data.reviewAt, tierGrace: true };
    case 'MemberErased':
      return { ...state, enrolled: false, erased: true };
    case 'PointsClawedBack': {
      const { refundId, orderId, amount, points, lots, expired, owed, shortfall, fingerprint, clawedBackAt } = event.data;
      const order = state.orders.get(orderId);
      if (order) {
        order.refunded = refundedAfter(order, amount);
        order.clawedBack += points;
        order.expiredCounted += expired;
        // Tier progress: the order's points no longer count, in the window they were earned in.
        state.earnings.push({ at: order.earnedAt, points: -points });
      }
      const taken = take(state, lots);
      const next = { ...state, held: state.held - taken, owed: state.owed + owed };
      const balance = availablePoints(next, new Date(clawedBackAt));
      state.refunds.set(refundId, { fingerprint, orderId, points, taken, expired, owed, shortfall, balance });
      return next;
    }
    case 'PointsTransferredOut': {
      const { transferId, to, points, lots, fingerprint, transferredAt } = event.data;
      const day = transferredAt.slice(0, 10);
      state.transferredOnDay.set(day, (state.transferredOnDay.get(day) ?? 0) + points);
      const next = { ...state, held: state.held - take(state, lots) };
      state.transfersOut.set(transferId, { fingerprint, to, points, balance: availablePoints(next, new Date(transferredAt)) });
      return next;
    }
    case 'PointsTransferredIn': {
      const { lotId, points, receivedAt, expiresAt } = event.data;
      state.lots.set(lotId, { lotId, remaining: points, earnedAt: receivedAt, expiresAt });
      return { ...state, enrolled: true, held: state.held + points };
    }
    case 'EnrolmentConsentRecorded':
      return { ...state, enrolled: true, consentRecordedAt: event.data.recordedAt };
    case 'PointsExpiringSoon':
      state.reminded.add(event.data.lotId);
      return state;
    case 'ReferralRewarded': {
      const { lotId, points, rewardedAt, expiresAt, role } = event.data;
      state.lots.set(lotId, { lotId, remaining: points, earnedAt: rewardedAt, expiresAt });
      return { ...state, enrolled: true, held: state.held + points, referred: state.referred || role === 'referee' };
    }
    case 'OwedPointsRepaid':
      return { ...state, held: state.held - take(state, event.data.lots), owed: Math.max(0, state.owed - event.data.points) };
    default:
      return state;
  }
}

function recordOrder(state: WalletState, orderId: string, lotId: string, points: number, amount: number | null, earnedAt: string): void {
  state.orderOfLot.set(lotId, orderId);
  const order = state.orders.get(orderId);
  if (order) {
    order.lotIds.push(lotId);
    order.earned += points;
    order.amount ??= amount;
  } else
    state.orders.set(orderId, {
      lotIds: [lotId],
      earned: points,
      amount,
      earnedAt,
      tierBefore: state.tier,
      refunded: 0,
      clawedBack: 0,
      expired: 0,
      expiredCounted: 0,
    });
}

/** Takes the allocations from their lots; answers the points taken. */
function take(state: WalletState, allocations: readonly Allocation[]): number {
  let taken = 0;
  for (const { lotId, points } of allocations) {
    const lot = state.lots.get(lotId);
    if (lot) {
      lot.remaining -= points;
      taken += points;
    }
  }
  return taken;
}

/** Gives the allocations back to their lots; answers the points given. */
function give(state: WalletState, allocations: readonly Allocation[]): number {
  let given = 0;
  for (const { lotId, points } of allocations) {
    const lot = state.lots.get(lotId);
    if (lot) {
      lot.remaining += points;
      given += points;
    }
  }
  return given;
}

// ISO-8601 UTC strings order as their instants in code-unit order (not in a locale's collation).
const NEVER = '9999-12-31T23:59:59.999Z';
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Lots that can still be spent at `now`: not yet past their expiry, with points left. */
export function spendableLots(state: WalletState, now: Date): Lot[] {
  const at = now.toISOString();
  return [...state.lots.values()]
    .filter((lot) => lot.remaining > 0 && (lot.expiresAt === null || lot.expiresAt > at))
    .sort((a, b) => compare(a.expiresAt ?? NEVER, b.expiresAt ?? NEVER) || compare(a.earnedAt, b.earnedAt) || compare(a.lotId, b.lotId));
}

/** The spendable balance at `now`: the points of every lot not yet past its expiry, less what the member owes (it may be negative). */
export function availablePoints(state: WalletState, now: Date): number {
  const at = now.toISOString();
  let sum = 0;
  for (const lot of state.lots.values()) if (lot.remaining > 0 && (lot.expiresAt === null || lot.expiresAt > at)) sum += lot.remaining;
  return sum - state.owed;
}

/** Points earned in the rolling window that ends at `now`. */
export function earnedSince(state: WalletState, since: Date): number {
  const from = since.toISOString();
  return state.earnings.reduce((sum, e) => (e.at > from ? sum + e.points : sum), 0);
}
