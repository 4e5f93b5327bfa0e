import { accept, reject, type Decision } from '#cqrs';
import { BOUNDS, textProblem } from '#platform';
import type { ProgramDefinition } from '../program/program.events';
import { qualifyingTier, tierRank } from '../program/program.rules';
import { addMonths } from '../shared/calendar';
import { OwedPointsRepaid, PointsClawedBack, TierChanged, type Allocation, type WalletEvent } from './wallet.events';
import { availablePoints, earnedSince, refundedAfter, spendableLots, type WalletState } from './wallet.state';

/** The tracked events that take back what an order earned (Segment's e-commerce spec names them). */
export const REFUND_EVENTS: Readonly<Record<string, 'refund' | 'return'>> = { 'Order Refunded': 'refund', 'Order Returned': 'return' };

/** Longest order id kept: ids come from the tenant's shop and are held in the wallet's memory. */
const ORDER_ID_LENGTH = 255;

export interface ClawBack {
  readonly type: 'ClawBack';
  readonly userId: string;
  /** The tracked message (`track:<messageId>`) or the API call (`api:<digest of member and Idempotency-Key>`). */
  readonly refundId: string;
  readonly orderId: string;
  readonly cause: 'refund' | 'return';
  /** How much of the order's amount was refunded; null for all of it. */
  readonly amount: number | null;
  /** What the refund was asked with: the same refund id with another body is refused. */
  readonly fingerprint: string;
  readonly program?: ProgramDefinition;
  readonly now: Date;
}

export type RefundRejection =
  | { readonly kind: 'UnknownMember'; readonly userId: string }
  | { readonly kind: 'UnknownOrder'; readonly orderId: string }
  | { readonly kind: 'OrderFullyRefunded'; readonly orderId: string; readonly points: number }
  | { readonly kind: 'IdempotencyKeyReused' };

/** The order id of a tracked event (`order_id`), when it is one a wallet can keep. */
export function orderIdOf(properties: Readonly<Record<string, unknown>>): string | undefined {
  const raw = properties.order_id;
  const id = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  return typeof id === 'string' && id !== '' && !textProblem(id, 'identifier', ORDER_ID_LENGTH) ? id : undefined;
}

/**
 * An order's amount as sent (`total`): a positive number (or numeric text) within what the API
 * takes as an amount; undefined when absent, null when present but none of that.
 */
export function orderAmountOf(properties: Readonly<Record<string, unknown>>): number | null | undefined {
  const raw = properties.total;
  if (raw === undefined || raw === null) return undefined;
  const amount = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  return Number.isFinite(amount) && amount > 0 && amount <= BOUNDS.amount ? amount : null;
}

/**
 * Takes back what an order earned, in proportion to how much of it was refunded (all of it
 * when the refund names no amount, or the order had none), never more than it earned in all:
 * what expired from the order's own lots counts first (it is gone already), then points come
 * from the order's own lots while they hold some, then from the lots that expire first. What
 * the balance cannot cover is owed (the balance goes negative) if the program allows it, and
 * otherwise recorded as a shortfall. If the order bought an upgrade, the tier falls back to what
 * the points left qualify for, never below the tier the member held before the order.
 */
export function clawBack(command: ClawBack, state: WalletState): Decision<WalletEvent, RefundRejection> {
  const { userId, refundId, orderId, amount, now } = command;
  const earlier = state.refunds.get(refundId);
  if (earlier) return earlier.fingerprint === command.fingerprint ? accept() : reject({ kind: 'IdempotencyKeyReused' });
  if (!state.enrolled) return reject({ kind: 'UnknownMember', userId });
  const order = state.orders.get(orderId);
  if (!order) return reject({ kind: 'UnknownOrder', orderId });
  if (order.clawedBack >= order.earned) return reject({ kind: 'OrderFullyRefunded', orderId, points: order.earned });
  // A refund of part of an order whose amount is unknown (it earned a fixed award) cannot be
  // proportioned: it takes nothing, and a refund of the whole order takes everything.
  const share = amount === null ? 1 : order.amount === null ? 0 : Math.min(1, refundedAfter(order, amount) / order.amount);
  // toFixed first: 19.99 of 39.98 must not lose a point to binary fractions.
  const target = Math.floor(Number((order.earned * share).toFixed(6)));
  const points = Math.max(0, Math.min(order.earned, target) - order.clawedBack);
  // What expired from the order's own lots is gone already: the member never spent it.
  const expired = Math.min(points, order.expired - order.expiredCounted);
  const lots = takeFrom(state, order.lotIds, points - expired, now);
  const taken = lots.reduce((sum, lot) => sum + lot.points, 0);
  const owed = command.program?.refunds.allowNegativeBalance ? points - expired - taken : 0;
  const at = now.toISOString();
  const events: WalletEvent[] = [
    PointsClawedBack({
      userId,
      refundId,
      orderId,
      cause: command.cause,
      amount,
      points,
      expired,
      lots,
      owed,
      shortfall: points - expired - taken - owed,
      fingerprint: command.fingerprint,
      clawedBackAt: at,
    }),
  ];
  const downgrade = tierAfterClawBack(command, state, order, points);
  if (downgrade) events.push(downgrade);
  return accept(...events);
}

/** The order's own lots first (what it earned, if still there), then the rest first-to-expire-first. */
function takeFrom(state: WalletState, ownLots: readonly string[], points: number, now: Date): Allocation[] {
  const spendable = spendableLots(state, now);
  const own = new Set(ownLots);
  const ordered = [...spendable.filter((lot) => own.has(lot.lotId)), ...spendable.filter((lot) => !own.has(lot.lotId))];
  const allocations: Allocation[] = [];
  let missing = points;
  for (const lot of ordered) {
    if (missing === 0) break;
    const taken = Math.min(lot.remaining, missing);
    allocations.push({ lotId: lot.lotId, points: taken });
    missing -= taken;
  }
  return allocations;
}

function tierAfterClawBack(
  command: ClawBack,
  state: WalletState,
  order: { earnedAt: string; tierBefore: string | null },
  points: number,
): WalletEvent | undefined {
  const tiers = command.program?.tiers;
  if (!tiers || state.tier === null || points === 0) return undefined;
  const since = addMonths(command.now, -tiers.periodMonths);
  // An order earned before the window counts towards no tier any more: its refund changes none.
  if (order.earnedAt <= since.toISOString()) return undefined;
  const left = qualifyingTier(tiers.levels, earnedSince(state, since) - points)?.name ?? null;
  const floor = tierRank(tiers.levels, left) >= tierRank(tiers.levels, order.tierBefore) ? left : order.tierBefore;
  if (tierRank(tiers.levels, floor) >= tierRank(tiers.levels, state.tier)) return undefined;
  const at = command.now.toISOString();
  return TierChanged({
    userId: command.userId,
    from: state.tier,
    to: floor,
    reason: 'downgrade',
    reviewAt: state.tierReviewAt ?? addMonths(command.now, tiers.periodMonths).toISOString(),
    changedAt: at,
  });
}

/**
 * Points coming into a wallet that owes: they pay what is owed first, from the lots they arrive
 * in (`incoming`, as the events before this one put them there).
 */
export function repayOwed(state: WalletState, userId: string, incoming: readonly Allocation[], now: Date): WalletEvent[] {
  if (state.owed <= 0) return [];
  const lots: Allocation[] = [];
  let missing = state.owed;
  for (const lot of incoming) {
    if (missing === 0) break;
    const taken = Math.min(lot.points, missing);
    if (taken > 0) lots.push({ lotId: lot.lotId, points: taken });
    missing -= taken;
  }
  const points = state.owed - missing;
  return points > 0 ? [OwedPointsRepaid({ userId, points, lots, repaidAt: now.toISOString() })] : [];
}

export { availablePoints };
