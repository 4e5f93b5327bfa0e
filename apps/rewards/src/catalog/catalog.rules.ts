import { BOUNDS } from '#platform';
import type { EditableTerms, RewardTerms, VoucherPolicy } from './catalog.events';

export type FieldErrors = { pointer: string; message: string }[];

export type CatalogRejection =
  | { readonly kind: 'RewardExists'; readonly rewardId: string }
  | { readonly kind: 'InvalidValidity' }
  | { readonly kind: 'InvalidTerms'; readonly errors: FieldErrors }
  | { readonly kind: 'RewardNotFound' }
  | { readonly kind: 'RewardInactive' }
  | { readonly kind: 'RewardNotYetValid'; readonly validFrom: string }
  | { readonly kind: 'RewardExpired'; readonly validUntil: string }
  | { readonly kind: 'TierRequired'; readonly tiers: readonly string[]; readonly memberTier: string | null }
  | { readonly kind: 'OutOfStock' }
  | { readonly kind: 'OutOfCodes' }
  | { readonly kind: 'MemberLimitReached'; readonly limit: number }
  /** Codes imported into a reward that generates its own, or has no codes at all. */
  | { readonly kind: 'NotImportingCodes' }
  /** A generated code that was handed out before: the handler draws another. */
  | { readonly kind: 'CodeTaken' };

export interface RewardState {
  readonly terms?: RewardTerms;
  readonly createdAt?: string;
  readonly active: boolean;
  /** Active reservations: redemption id → member. */
  readonly held: Map<string, string>;
  /** Restocks and imports applied, by id: a retried one applies once. */
  readonly applied: Set<string>;
  /** Imported codes in order; those before `nextCode` are handed out. */
  readonly pool: string[];
  readonly nextCode: number;
  /** Every code imported or handed out, so no code is imported twice or generated twice. */
  readonly knownCodes: Set<string>;
  /** The code each redemption got (null once its member was erased and the code with them). */
  readonly issued: Map<string, string | null>;
}

/** Most codes one reward's pool holds; its stream state is kept in memory. */
export const MAX_POOL = 100_000;
/** Most codes in one import: a request body holds them. */
export const MAX_IMPORT = 1_000;
/** A code as people type it and shops print it: visible ASCII, no spaces. */
export const VOUCHER_CODE = /^[\x21-\x7e]{1,64}$/;
/** Generated codes: no 0/O, 1/I/L, so a code read aloud or off paper is typed right. */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/**
 * Terms the read models can hold: the catalog's columns are integers, and a redemption's cost is
 * one award's worth at most (BOUNDS.points), stock and limits a quantity (BOUNDS.quantity).
 */
export function termsErrors(terms: RewardTerms | (EditableTerms & { stock?: number })): FieldErrors {
  const errors: FieldErrors = [];
  const whole = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;
  if (!whole(terms.cost, 1, BOUNDS.points)) errors.push({ pointer: '/cost', message: `must be a whole number from 1 to ${BOUNDS.points}` });
  if (terms.stock !== undefined && !whole(terms.stock, 0, BOUNDS.quantity))
    errors.push({ pointer: '/stock', message: `must be a whole number from 0 to ${BOUNDS.quantity}` });
  if (terms.perMemberLimit !== null && !whole(terms.perMemberLimit, 1, BOUNDS.quantity))
    errors.push({ pointer: '/perMemberLimit', message: `must be a whole number from 1 to ${BOUNDS.quantity}` });
  if (terms.tiers !== null && new Set(terms.tiers).size !== terms.tiers.length)
    errors.push({ pointer: '/tiers', message: 'must not name a tier twice' });
  return errors;
}

/** Why these codes cannot join the pool: each duplicate named by its place in the list. */
export function codeErrors(state: RewardState, codes: readonly string[], pointer = '/codes'): FieldErrors {
  const errors: FieldErrors = [];
  const seen = new Set<string>();
  codes.forEach((code, index) => {
    if (!VOUCHER_CODE.test(code)) errors.push({ pointer: `${pointer}/${index}`, message: 'must be 1-64 visible ASCII characters' });
    else if (seen.has(code)) errors.push({ pointer: `${pointer}/${index}`, message: 'appears twice in the list' });
    else if (state.knownCodes.has(code)) errors.push({ pointer: `${pointer}/${index}`, message: 'is already in this reward' });
    seen.add(code);
  });
  if (state.pool.length + codes.length > MAX_POOL)
    errors.push({ pointer, message: `a reward holds at most ${MAX_POOL} codes; it holds ${state.pool.length}` });
  return errors;
}

/** Why a member of `memberTier` cannot have one more of this reward now, if they cannot. */
export function unavailability(
  state: RewardState,
  userId: string,
  now: Date,
  memberTier: string | null = null,
): CatalogRejection | undefined {
  const { terms, held } = state;
  if (!terms) return { kind: 'RewardNotFound' };
  if (!state.active) return { kind: 'RewardInactive' };
  const at = now.toISOString();
  if (at < terms.validFrom) return { kind: 'RewardNotYetValid', validFrom: terms.validFrom };
  if (terms.validUntil !== null && at >= terms.validUntil) return { kind: 'RewardExpired', validUntil: terms.validUntil };
  if (terms.tiers !== null && (memberTier === null || !terms.tiers.includes(memberTier)))
    return { kind: 'TierRequired', tiers: terms.tiers, memberTier };
  if (held.size >= terms.stock) return { kind: 'OutOfStock' };
  if (terms.voucher?.kind === 'imported' && state.nextCode >= state.pool.length) return { kind: 'OutOfCodes' };
  if (terms.perMemberLimit !== null) {
    let mine = 0;
    for (const holder of held.values()) if (holder === userId) mine++;
    if (mine >= terms.perMemberLimit) return { kind: 'MemberLimitReached', limit: terms.perMemberLimit };
  }
  return undefined;
}

export const remainingStock = (state: RewardState) => (state.terms ? state.terms.stock - state.held.size : 0);

/** Imported codes not yet handed out; null for a reward without a pool. */
export const codesLeft = (state: RewardState) => (state.terms?.voucher?.kind === 'imported' ? state.pool.length - state.nextCode : null);

/** A fresh code under the policy, drawn with `randomIndex` (crypto.randomInt at the edge). */
export function drawCode(policy: Extract<VoucherPolicy, { kind: 'generated' }>, randomIndex: (bound: number) => number): string {
  let code = policy.prefix;
  for (let i = 0; i < policy.length; i++) code += CODE_ALPHABET[randomIndex(CODE_ALPHABET.length)];
  return code;
}
