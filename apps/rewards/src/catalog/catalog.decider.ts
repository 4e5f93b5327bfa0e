import { accept, reject, type Decider } from '#cqrs';
import { BOUNDS } from '#platform';
import { RewardCreated, StockReleased, StockReserved, type CatalogEvent, type RewardTerms } from './catalog.events';

export type CatalogCommand =
  | { readonly type: 'CreateReward'; readonly terms: RewardTerms; readonly now: Date }
  | { readonly type: 'ReserveStock'; readonly redemptionId: string; readonly userId: string; readonly now: Date }
  | { readonly type: 'ReleaseStock'; readonly redemptionId: string; readonly now: Date };

export type CatalogRejection =
  | { readonly kind: 'RewardExists'; readonly rewardId: string }
  | { readonly kind: 'InvalidValidity' }
  | { readonly kind: 'InvalidTerms'; readonly errors: readonly { pointer: string; message: string }[] }
  | { readonly kind: 'RewardNotFound' }
  | { readonly kind: 'RewardNotYetValid'; readonly validFrom: string }
  | { readonly kind: 'RewardExpired'; readonly validUntil: string }
  | { readonly kind: 'OutOfStock' }
  | { readonly kind: 'MemberLimitReached'; readonly limit: number };

export interface RewardState {
  readonly terms?: RewardTerms;
  /** Active reservations: redemption id → member. */
  readonly held: Map<string, string>;
}

export const catalogDecider: Decider<CatalogCommand, CatalogEvent, RewardState, CatalogRejection> = {
  initialState: () => ({ held: new Map() }),
  evolve(state, event) {
    switch (event.type) {
      case 'RewardCreated': {
        const { createdAt: _createdAt, ...terms } = event.data;
        return { ...state, terms };
      }
      case 'StockReserved':
        state.held.set(event.data.redemptionId, event.data.userId);
        return state;
      case 'StockReleased':
        state.held.delete(event.data.redemptionId);
        return state;
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateReward': {
        if (state.terms) return reject({ kind: 'RewardExists', rewardId: command.terms.rewardId });
        const errors = termsErrors(command.terms);
        if (errors.length > 0) return reject({ kind: 'InvalidTerms', errors });
        const { validFrom, validUntil } = command.terms;
        if (validUntil !== null && validUntil <= validFrom) return reject({ kind: 'InvalidValidity' });
        return accept(RewardCreated({ ...command.terms, createdAt: command.now.toISOString() }));
      }
      case 'ReserveStock': {
        const { terms, held } = state;
        if (!terms) return reject({ kind: 'RewardNotFound' });
        if (held.has(command.redemptionId)) return accept();
        const problem = unavailability(state, command.userId, command.now);
        if (problem) return reject(problem);
        return accept(
          StockReserved({
            rewardId: terms.rewardId,
            redemptionId: command.redemptionId,
            userId: command.userId,
            reservedAt: command.now.toISOString(),
          }),
        );
      }
      case 'ReleaseStock': {
        const userId = state.held.get(command.redemptionId);
        if (!state.terms || userId === undefined) return accept();
        return accept(
          StockReleased({
            rewardId: state.terms.rewardId,
            redemptionId: command.redemptionId,
            userId,
            releasedAt: command.now.toISOString(),
          }),
        );
      }
    }
  },
};

/**
 * Terms the read models can hold: the catalog's columns are integers, and a redemption's cost is
 * one award's worth at most (BOUNDS.points), stock and limits a quantity (BOUNDS.quantity).
 */
export function termsErrors(terms: RewardTerms): { pointer: string; message: string }[] {
  const errors: { pointer: string; message: string }[] = [];
  const whole = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;
  if (!whole(terms.cost, 1, BOUNDS.points)) errors.push({ pointer: '/cost', message: `must be a whole number from 1 to ${BOUNDS.points}` });
  if (!whole(terms.stock, 0, BOUNDS.quantity))
    errors.push({ pointer: '/stock', message: `must be a whole number from 0 to ${BOUNDS.quantity}` });
  if (terms.perMemberLimit !== null && !whole(terms.perMemberLimit, 1, BOUNDS.quantity))
    errors.push({ pointer: '/perMemberLimit', message: `must be a whole number from 1 to ${BOUNDS.quantity}` });
  return errors;
}

/** Why a member cannot have one more of this reward now, if they cannot. */
export function unavailability(state: RewardState, userId: string, now: Date): CatalogRejection | undefined {
  const { terms, held } = state;
  if (!terms) return { kind: 'RewardNotFound' };
  const at = now.toISOString();
  if (at < terms.validFrom) return { kind: 'RewardNotYetValid', validFrom: terms.validFrom };
  if (terms.validUntil !== null && at >= terms.validUntil) return { kind: 'RewardExpired', validUntil: terms.validUntil };
  if (held.size >= terms.stock) return { kind: 'OutOfStock' };
  if (terms.perMemberLimit !== null) {
    let mine = 0;
    for (const holder of held.values()) if (holder === userId) mine++;
    if (mine >= terms.perMemberLimit) return { kind: 'MemberLimitReached', limit: terms.perMemberLimit };
  }
  return undefined;
}

export const remainingStock = (state: RewardState) => (state.terms ? state.terms.stock - state.held.size : 0);
