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
  /** Source events that already earned points: the dedupe set behind "exactly one effect". */
  readonly sources: Set<string>;
  /** Points earned and when, for the tiers' rolling window. */
  readonly earnings: { at: string; points: number }[];
  /** Points each rule gave per day (`rule|d|2026-11-23`) and month (`rule|m|2026-11`), for caps. */
  readonly capUsage: Map<string, number>;
  readonly redemptions: Map<string, { points: number; lots: Allocation[]; cancelled: boolean }>;
  readonly adjustments: Set<string>;
  readonly tier: string | null;
  readonly tierReviewAt: string | null;
}

export function emptyWallet(): WalletState {
  return {
    enrolled: false,
    erased: false,
    lots: new Map(),
    sources: new Set(),
    earnings: [],
    capUsage: new Map(),
    redemptions: new Map(),
    adjustments: new Set(),
    tier: null,
    tierReviewAt: null,
  };
}

export const dayKey = (ruleId: string, day: string) => `${ruleId}|d|${day}`;
export const monthKey = (ruleId: string, month: string) => `${ruleId}|m|${month}`;

export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'MemberEnrolled':
      return { ...state, enrolled: true };
    case 'PointsEarned': {
      const { lotId, points, earnedAt, expiresAt, sourceEventId, ruleId } = event.data;
      state.lots.set(lotId, { lotId, remaining: points, earnedAt, expiresAt });
      state.sources.add(sourceEventId);
      state.earnings.push({ at: earnedAt, points });
      for (const key of [dayKey(ruleId, earnedAt.slice(0, 10)), monthKey(ruleId, earnedAt.slice(0, 7))]) {
        state.capUsage.set(key, (state.capUsage.get(key) ?? 0) + points);
      }
      return { ...state, enrolled: true };
    }
    case 'PointsRedeemed':
      take(state, event.data.lots);
      state.redemptions.set(event.data.redemptionId, { points: event.data.points, lots: event.data.lots, cancelled: false });
      return state;
    case 'RedemptionCancelled': {
      give(state, event.data.lots);
      const redemption = state.redemptions.get(event.data.redemptionId);
      if (redemption) redemption.cancelled = true;
      return state;
    }
    case 'PointsExpired':
      take(state, [{ lotId: event.data.lotId, points: event.data.points }]);
      return state;
    case 'PointsAdjusted': {
      const { adjustmentId, points, lots, adjustedAt, expiresAt } = event.data;
      state.adjustments.add(adjustmentId);
      if (points > 0)
        for (const lot of lots) state.lots.set(lot.lotId, { lotId: lot.lotId, remaining: lot.points, earnedAt: adjustedAt, expiresAt });
      else take(state, lots);
      return state;
    }
    case 'TierChanged':
      return { ...state, tier: event.data.to, tierReviewAt: event.data.reviewAt };
    case 'TierRetained':
      return { ...state, tierReviewAt: event.data.reviewAt };
    case 'MemberErased':
      return { ...state, enrolled: false, erased: true };
    default:
      return state;
  }
}

function take(state: WalletState, allocations: readonly Allocation[]): void {
  for (const { lotId, points } of allocations) {
    const lot = state.lots.get(lotId);
    if (lot) lot.remaining -= points;
  }
}

function give(state: WalletState, allocations: readonly Allocation[]): void {
  for (const { lotId, points } of allocations) {
    const lot = state.lots.get(lotId);
    if (lot) lot.remaining += points;
  }
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

export function availablePoints(state: WalletState, now: Date): number {
  return spendableLots(state, now).reduce((sum, lot) => sum + lot.remaining, 0);
}

/** Points earned in the rolling window that ends at `now`. */
export function earnedSince(state: WalletState, since: Date): number {
  const from = since.toISOString();
  return state.earnings.reduce((sum, e) => (e.at > from ? sum + e.points : sum), 0);
}
