import { isDeepStrictEqual } from 'node:util';
import { accept, reject, type Decider, type Decision } from '#cqrs';
import { BOUNDS } from '#platform';
import {
  RewardCreated,
  RewardDeactivated,
  RewardReactivated,
  RewardUpdated,
  StockAdded,
  StockReleased,
  StockReserved,
  VoucherCodeAssigned,
  VoucherCodesImported,
  type CatalogEvent,
  type EditableTerms,
  type RewardTerms,
} from './catalog.events';
import { codeErrors, termsErrors, unavailability, type CatalogRejection, type RewardState } from './catalog.rules';

export type CatalogCommand =
  /** `codes`: the pool an `imported` reward starts with, if any. */
  | { readonly type: 'CreateReward'; readonly terms: RewardTerms; readonly codes?: readonly string[]; readonly now: Date }
  | { readonly type: 'UpdateReward'; readonly changes: Partial<EditableTerms>; readonly now: Date }
  | { readonly type: 'Restock'; readonly restockId: string; readonly units: number; readonly now: Date }
  | { readonly type: 'Deactivate'; readonly now: Date }
  | { readonly type: 'Reactivate'; readonly now: Date }
  | { readonly type: 'ImportCodes'; readonly importId: string; readonly codes: readonly string[]; readonly now: Date }
  /**
   * `tier`: the member's tier, read from their wallet; `code`: a code the handler drew for a
   * reward that generates them (randomness, like time, comes in on the command).
   */
  | {
      readonly type: 'ReserveStock';
      readonly redemptionId: string;
      readonly userId: string;
      readonly tier?: string | null;
      readonly code?: string;
      readonly now: Date;
    }
  | { readonly type: 'ReleaseStock'; readonly redemptionId: string; readonly now: Date };

export type { CatalogRejection, RewardState };

export const catalogDecider: Decider<CatalogCommand, CatalogEvent, RewardState, CatalogRejection> = {
  initialState: () => ({
    active: true,
    held: new Map(),
    applied: new Set(),
    pool: [],
    nextCode: 0,
    knownCodes: new Set(),
    issued: new Map(),
  }),
  evolve(state, event) {
    switch (event.type) {
      case 'RewardCreated': {
        const { createdAt, ...terms } = event.data;
        return { ...state, terms, createdAt };
      }
      case 'RewardUpdated': {
        const { rewardId: _rewardId, updatedAt: _updatedAt, ...changes } = event.data;
        return state.terms ? { ...state, terms: { ...state.terms, ...changes } } : state;
      }
      case 'StockAdded':
        state.applied.add(event.data.restockId);
        return state.terms ? { ...state, terms: { ...state.terms, stock: event.data.stock } } : state;
      case 'RewardDeactivated':
        return { ...state, active: false };
      case 'RewardReactivated':
        return { ...state, active: true };
      case 'VoucherCodesImported':
        state.applied.add(event.data.importId);
        // Sealed codes of a pool whose key is gone read as null: nothing left to hand out.
        for (const code of event.data.codes ?? []) {
          state.pool.push(code);
          state.knownCodes.add(code);
        }
        return state;
      case 'VoucherCodeAssigned': {
        const { redemptionId, code } = event.data;
        state.issued.set(redemptionId, code ?? null);
        if (code) state.knownCodes.add(code);
        return state.terms?.voucher?.kind === 'imported' ? { ...state, nextCode: state.nextCode + 1 } : state;
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
    const at = command.now.toISOString();
    if (command.type === 'CreateReward') return create(command, state);
    const { terms } = state;
    if (!terms) return reject({ kind: 'RewardNotFound' });
    const { rewardId } = terms;
    switch (command.type) {
      case 'UpdateReward': {
        const { rewardId: _id, stock: _stock, voucher: _voucher, ...current } = terms;
        const next: EditableTerms = { ...current, ...command.changes };
        const errors = termsErrors(next);
        if (errors.length > 0) return reject({ kind: 'InvalidTerms', errors });
        if (next.validUntil !== null && next.validUntil <= next.validFrom) return reject({ kind: 'InvalidValidity' });
        // The same update sent again (a retried request) records nothing.
        if (isDeepStrictEqual(next, current)) return accept();
        return accept(RewardUpdated({ rewardId, ...next, updatedAt: at }));
      }
      case 'Restock': {
        if (state.applied.has(command.restockId)) return accept();
        const stock = terms.stock + command.units;
        if (!Number.isInteger(command.units) || command.units < 1 || stock > BOUNDS.quantity)
          return reject({
            kind: 'InvalidTerms',
            errors: [
              { pointer: '/units', message: `must be a whole number from 1 to ${BOUNDS.quantity - terms.stock} (stock is ${terms.stock})` },
            ],
          });
        return accept(StockAdded({ rewardId, restockId: command.restockId, units: command.units, stock, restockedAt: at }));
      }
      case 'Deactivate':
        return state.active ? accept(RewardDeactivated({ rewardId, deactivatedAt: at })) : accept();
      case 'Reactivate':
        return state.active ? accept() : accept(RewardReactivated({ rewardId, reactivatedAt: at }));
      case 'ImportCodes': {
        if (state.applied.has(command.importId)) return accept();
        if (terms.voucher?.kind !== 'imported') return reject({ kind: 'NotImportingCodes' });
        const errors = codeErrors(state, command.codes);
        if (errors.length > 0) return reject({ kind: 'InvalidTerms', errors });
        return accept(VoucherCodesImported({ rewardId, importId: command.importId, codes: [...command.codes], importedAt: at }));
      }
      case 'ReserveStock':
        return reserve(command, state, terms);
      case 'ReleaseStock': {
        // The code a cancelled redemption got stays spent: its member has seen it and may have used it.
        const userId = state.held.get(command.redemptionId);
        if (userId === undefined) return accept();
        return accept(StockReleased({ rewardId, redemptionId: command.redemptionId, userId, releasedAt: at }));
      }
    }
  },
};

type CatalogDecision = Decision<CatalogEvent, CatalogRejection>;

function create(command: Extract<CatalogCommand, { type: 'CreateReward' }>, state: RewardState): CatalogDecision {
  if (state.terms) return reject({ kind: 'RewardExists', rewardId: command.terms.rewardId });
  const errors = termsErrors(command.terms);
  const codes = command.codes ?? [];
  if (codes.length > 0 && command.terms.voucher?.kind !== 'imported')
    errors.push({ pointer: '/voucher/codes', message: 'only a reward whose voucher kind is "imported" takes codes' });
  else errors.push(...codeErrors(state, codes, '/voucher/codes'));
  if (errors.length > 0) return reject({ kind: 'InvalidTerms', errors });
  const { validFrom, validUntil, rewardId } = command.terms;
  if (validUntil !== null && validUntil <= validFrom) return reject({ kind: 'InvalidValidity' });
  const at = command.now.toISOString();
  const created = RewardCreated({ ...command.terms, createdAt: at });
  return codes.length > 0
    ? accept(created, VoucherCodesImported({ rewardId, importId: `create:${rewardId}`, codes: [...codes], importedAt: at }))
    : accept(created);
}

/** A stock unit, and with it the next imported code or the drawn one: both in one append, so a code goes to one redemption. */
function reserve(command: Extract<CatalogCommand, { type: 'ReserveStock' }>, state: RewardState, terms: RewardTerms): CatalogDecision {
  const { redemptionId, userId, now } = command;
  if (state.held.has(redemptionId)) return accept();
  const problem = unavailability(state, userId, now, command.tier ?? null);
  if (problem) return reject(problem);
  const at = now.toISOString();
  const reserved = StockReserved({ rewardId: terms.rewardId, redemptionId, userId, reservedAt: at });
  const voucher = terms.voucher;
  if (!voucher) return accept(reserved);
  let code: string;
  if (voucher.kind === 'imported') code = state.pool[state.nextCode]!;
  else {
    if (command.code === undefined || state.knownCodes.has(command.code)) return reject({ kind: 'CodeTaken' });
    code = command.code;
  }
  return accept(reserved, VoucherCodeAssigned({ rewardId: terms.rewardId, redemptionId, userId, code, assignedAt: at }));
}

export { remainingStock, termsErrors, unavailability } from './catalog.rules';
