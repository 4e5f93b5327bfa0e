import { defineEvent, type EventOf } from '#cqrs';

export interface RewardTerms {
  rewardId: string;
  name: string;
  cost: number;
  stock: number;
  /** How many of this reward one member may hold (reserved or fulfilled); null for no limit. */
  perMemberLimit: number | null;
  validFrom: string;
  validUntil: string | null;
}

export const RewardCreated = defineEvent<RewardTerms & { createdAt: string }>()('RewardCreated');

/** One unit held for a redemption; the reward stream is the only place stock is counted. */
export const StockReserved = defineEvent<{ rewardId: string; redemptionId: string; userId: string; reservedAt: string }>()('StockReserved');

export const StockReleased = defineEvent<{ rewardId: string; redemptionId: string; userId: string; releasedAt: string }>()('StockReleased');

export type CatalogEvent = EventOf<typeof RewardCreated> | EventOf<typeof StockReserved> | EventOf<typeof StockReleased>;
export const catalogEvents = [RewardCreated, StockReserved, StockReleased];
