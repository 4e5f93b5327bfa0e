import { accept, reject, type Decision } from '#cqrs';
import { BOUNDS } from '#platform';
import type { ProgramDefinition } from '../program/program.events';
import { expiryOf } from '../shared/calendar';
import { repayOwed } from './refund';
import { PointsTransferredIn, PointsTransferredOut, ReferralRewarded, type Allocation, type WalletEvent } from './wallet.events';
import { availablePoints, type WalletState } from './wallet.state';

/** The sender's half: decided on the sender's wallet, so a transfer racing a redemption never overdraws it. */
export interface TransferOut {
  readonly type: 'TransferOut';
  readonly userId: string;
  readonly transferId: string;
  readonly to: string;
  readonly points: number;
  /** Digest of what the Idempotency-Key was first used for. */
  readonly fingerprint: string;
  readonly program?: ProgramDefinition;
  readonly now: Date;
}

/** The recipient's half, or (`returned`) the points given back to a sender whose recipient refused them. */
export interface TransferIn {
  readonly type: 'TransferIn';
  readonly userId: string;
  readonly transferId: string;
  readonly from: string;
  readonly points: number;
  readonly expiresAt: string | null;
  readonly returned: boolean;
  readonly now: Date;
}

export type TransferRejection =
  | { readonly kind: 'TransfersDisabled' }
  | { readonly kind: 'SelfTransfer' }
  | { readonly kind: 'TransferLimitExceeded'; readonly limit: number; readonly per: 'transfer' | 'day'; readonly used: number }
  | { readonly kind: 'InsufficientPoints'; readonly available: number; readonly requested: number }
  | { readonly kind: 'IdempotencyKeyReused' }
  | { readonly kind: 'UnknownMember'; readonly userId: string }
  | { readonly kind: 'WalletLimitReached'; readonly limit: number; readonly held: number };

type Allocate = (state: WalletState, points: number, now: Date) => Allocation[] | undefined;

/**
 * A member gives points to another: only where the program allows transfers, within its limits
 * per transfer and per UTC day, keeping at least `minBalanceAfter` (a member who owes keeps
 * nothing to give), taken from the lots that expire first. The same transfer id again (a retried
 * call) is answered by the first transfer; with another body it is refused.
 */
export function transferOut(command: TransferOut, state: WalletState, allocate: Allocate): Decision<WalletEvent, TransferRejection> {
  const { userId, transferId, to, points, fingerprint, program, now } = command;
  const earlier = state.transfersOut.get(transferId);
  if (earlier) return earlier.fingerprint === fingerprint ? accept() : reject({ kind: 'IdempotencyKeyReused' });
  if (!state.enrolled) return reject({ kind: 'UnknownMember', userId });
  const policy = program?.transfers;
  if (!policy) return reject({ kind: 'TransfersDisabled' });
  if (to === userId) return reject({ kind: 'SelfTransfer' });
  if (points > policy.maxPointsPerTransfer)
    return reject({ kind: 'TransferLimitExceeded', limit: policy.maxPointsPerTransfer, per: 'transfer', used: 0 });
  const at = now.toISOString();
  const today = state.transferredOnDay.get(at.slice(0, 10)) ?? 0;
  if (policy.maxPointsPerDay !== undefined && today + points > policy.maxPointsPerDay)
    return reject({ kind: 'TransferLimitExceeded', limit: policy.maxPointsPerDay, per: 'day', used: today });
  const available = availablePoints(state, now);
  const lots = available - points >= policy.minBalanceAfter ? allocate(state, points, now) : undefined;
  if (!lots) return reject({ kind: 'InsufficientPoints', available, requested: points + policy.minBalanceAfter });
  // The soonest expiry of what was taken: a transfer must not make points last longer.
  const expiries = lots.map((lot) => state.lots.get(lot.lotId)?.expiresAt ?? null).filter((each): each is string => each !== null);
  const expiresAt = expiries.length > 0 ? expiries.sort()[0]! : null;
  return accept(PointsTransferredOut({ userId, transferId, to, points, lots, expiresAt, fingerprint, transferredAt: at }));
}

/**
 * The recipient gets the points as one lot that expires when the sender's would have; a second
 * delivery of the same transfer credits nothing. A wallet that cannot take them (closed by an
 * erasure, or full) refuses, and the caller gives them back to the sender.
 */
export function transferIn(command: TransferIn, state: WalletState): Decision<WalletEvent, TransferRejection> {
  const { userId, transferId, from, points, expiresAt, returned, now } = command;
  const lotId = `${returned ? 'transfer-returned' : 'transfer'}/${transferId}`;
  if (state.lots.has(lotId)) return accept();
  if (state.erased) return reject({ kind: 'UnknownMember', userId });
  if (state.held + points > BOUNDS.pointsTotal) return reject({ kind: 'WalletLimitReached', limit: BOUNDS.pointsTotal, held: state.held });
  return accept(
    PointsTransferredIn({ userId, transferId, from, points, lotId, expiresAt, returned, receivedAt: now.toISOString() }),
    ...repayOwed(state, userId, [{ lotId, points }], now),
  );
}

/** One side of a qualified referral (see referral/referral.decider.ts). */
export interface RewardReferral {
  readonly type: 'RewardReferral';
  readonly userId: string;
  readonly referralId: string;
  readonly role: 'referrer' | 'referee';
  readonly points: number;
  readonly program?: ProgramDefinition;
  readonly now: Date;
}

/**
 * Credits one side of a referral as a lot of its own (expiring like earned points), once; what the
 * member owes is paid from it first. Past what a wallet holds, it is cut to what fits.
 */
export function rewardReferral(command: RewardReferral, state: WalletState): Decision<WalletEvent, TransferRejection> {
  const { userId, referralId, role, program, now } = command;
  const lotId = `referral/${referralId}/${role}`;
  if (state.lots.has(lotId)) return accept();
  const points = Math.min(command.points, BOUNDS.pointsTotal - state.held);
  if (points <= 0) return accept();
  const expiresAt = expiryOf(program?.expiry, now)?.toISOString() ?? null;
  return accept(
    ReferralRewarded({ userId, referralId, role, points, lotId, expiresAt, rewardedAt: now.toISOString() }),
    ...repayOwed(state, userId, [{ lotId, points }], now),
  );
}
