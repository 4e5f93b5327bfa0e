import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

/**
 * How a reward hands out voucher codes on redemption: `generated` makes a fresh random code per
 * unit (the handler draws it, the decider checks it was never handed out); `imported` hands out
 * the tenant's own codes in the order they were imported, each once.
 */
export type VoucherPolicy = { kind: 'generated'; prefix: string; length: number } | { kind: 'imported' };

export interface RewardTerms {
  rewardId: string;
  name: string;
  cost: number;
  stock: number;
  /** How many of this reward one member may hold (reserved or fulfilled); null for no limit. */
  perMemberLimit: number | null;
  validFrom: string;
  validUntil: string | null;
  /** A label the catalog is filtered by; null for none. */
  category: string | null;
  /** The tiers whose members may redeem it; null for every member. */
  tiers: string[] | null;
  voucher: VoucherPolicy | null;
}

/** What an update may change: everything but the id and the stock (which only restocks add to) and the voucher policy. */
export type EditableTerms = Pick<RewardTerms, 'name' | 'cost' | 'perMemberLimit' | 'validFrom' | 'validUntil' | 'category' | 'tiers'>;

/**
 * Version 2 adds the category, the tiers a reward is reserved for and its voucher policy; a
 * version 1 reward had none of them.
 */
export const RewardCreated = defineEvent<RewardTerms & { createdAt: string }>()('RewardCreated', {
  version: 2,
  upcasters: { 1: (data) => ({ ...data, category: null, tiers: null, voucher: null }) },
});

/** The editable terms as they stand after the update, whole: a reader never merges partial updates. */
export const RewardUpdated = defineEvent<EditableTerms & { rewardId: string; updatedAt: string }>()('RewardUpdated');

/** `stock` is the total after the restock; `restockId` makes a retried restock (same Idempotency-Key) add once. */
export const StockAdded = defineEvent<{ rewardId: string; restockId: string; units: number; stock: number; restockedAt: string }>()(
  'StockAdded',
);

export const RewardDeactivated = defineEvent<{ rewardId: string; deactivatedAt: string }>()('RewardDeactivated');
export const RewardReactivated = defineEvent<{ rewardId: string; reactivatedAt: string }>()('RewardReactivated');

/**
 * The tenant's own codes, sealed at rest under a key of the reward's (not a person's: the subject
 * `reward/<id>` cannot be a member id, which never holds `/`).
 */
export const VoucherCodesImported = defineEvent<{ rewardId: string; importId: string; codes: string[]; importedAt: string }>()(
  'VoucherCodesImported',
  { personalData: { subject: (data: JsonObject) => `reward/${String(data.rewardId)}`, fields: ['codes'] } },
);

/**
 * The code a redemption got, appended with its StockReserved in one decision. Sealed under the
 * member's key: it is theirs to use, and it goes with them when they are erased.
 */
export const VoucherCodeAssigned = defineEvent<{
  rewardId: string;
  redemptionId: string;
  userId: string;
  code: string;
  assignedAt: string;
}>()('VoucherCodeAssigned', { personalData: { subject: (data: JsonObject) => String(data.userId), fields: ['code'] } });

/** One unit held for a redemption; the reward stream is the only place stock is counted. */
export const StockReserved = defineEvent<{ rewardId: string; redemptionId: string; userId: string; reservedAt: string }>()('StockReserved');

export const StockReleased = defineEvent<{ rewardId: string; redemptionId: string; userId: string; releasedAt: string }>()('StockReleased');

export type CatalogEvent =
  | EventOf<typeof RewardCreated>
  | EventOf<typeof RewardUpdated>
  | EventOf<typeof StockAdded>
  | EventOf<typeof RewardDeactivated>
  | EventOf<typeof RewardReactivated>
  | EventOf<typeof VoucherCodesImported>
  | EventOf<typeof VoucherCodeAssigned>
  | EventOf<typeof StockReserved>
  | EventOf<typeof StockReleased>;

export const catalogEvents = [
  RewardCreated,
  RewardUpdated,
  StockAdded,
  RewardDeactivated,
  RewardReactivated,
  VoucherCodesImported,
  VoucherCodeAssigned,
  StockReserved,
  StockReleased,
];
