import { defineEvent, type EventOf } from '#cqrs';
import type { TrackingSourceKind } from '#contracts';
import type { Condition } from '../program/program.events';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When in the week a campaign runs, in a time zone's wall-clock time (shops think in local opening hours). */
export interface CampaignSchedule {
  /** An IANA zone (`Europe/Paris`); `UTC` when the caller names none. */
  timeZone: string;
  /** The local days it runs on; all seven when the caller names none. */
  days: Weekday[];
  /** Local hours it runs in, `from` inclusive and `until` exclusive (0-24); all day when null. */
  hours: { from: number; until: number } | null;
}

/**
 * What a campaign adds to an event the program's rules earned on: `bonus` points, plus the
 * program's points times (multiplier - 1), the multiplier being the member's tier's in
 * `tierMultipliers` if it names one, else `multiplier` (1 when null: no extra).
 */
export interface CampaignAward {
  bonus: number;
  multiplier: number | null;
  tierMultipliers: Record<string, number>;
}

/** Null: no such limit. */
export interface CampaignLimits {
  /** Points the campaign gives out in all, every member together; it stops giving once spent. */
  budget: number | null;
  /** Awards / points one member gets from it at most. */
  perMemberAwards: number | null;
  perMemberPoints: number | null;
  /**
   * Only a member's first N orders earn it: the event must name an order (`properties.order_id`)
   * the member has not earned on before, while fewer than N of their orders earned here.
   */
  firstOrders: number | null;
}

export interface CampaignDefinition {
  campaignId: string;
  name: string;
  /** The tracked event it rewards (`Order Completed`, or `Audience Entered` for pulse's audiences). */
  event: string;
  sources: TrackingSourceKind[];
  /** Conditions on the event's properties, in the program rules' language. */
  conditions: Condition[];
  award: CampaignAward;
  /** ISO-8601 instants; `validUntil` exclusive, null: open-ended. */
  validFrom: string;
  validUntil: string | null;
  schedule: CampaignSchedule | null;
  limits: CampaignLimits;
}

/**
 * The rule id of a lot holding campaign points alone (no rule earned on the event): `campaign:<id>`
 * of the first campaign. Rule ids cannot hold a colon, so it names no rule of the program.
 */
export const campaignRuleId = (campaignId: string) => `campaign:${campaignId}`;

/**
 * A tenant's campaigns live on one stream (`rewards.campaigns-<tenantId>`), which earning reads
 * like the program's: an event earns under the campaigns created, and not yet stopped, before it
 * in the log, also on a replay.
 */
export const CampaignCreated = defineEvent<CampaignDefinition & { createdAt: string }>()('CampaignCreated');
/** Events recorded after it earn nothing more from the campaign. */
export const CampaignStopped = defineEvent<{ campaignId: string; stoppedAt: string }>()('CampaignStopped');
/** Stopped, and out of the list. */
export const CampaignArchived = defineEvent<{ campaignId: string; archivedAt: string }>()('CampaignArchived');

/**
 * What one earning batch gave out through the campaign (`points` over `awards` events), and the
 * running total: on the campaign's budget stream (`rewards.campaign-budget-<tenantId>.<id>`),
 * written by earning alone, in the same transaction as the wallet appends it counts.
 */
export const CampaignBudgetSpent = defineEvent<{ campaignId: string; points: number; awards: number; spent: number; spentAt: string }>()(
  'CampaignBudgetSpent',
);

export type CampaignEvent = EventOf<typeof CampaignCreated> | EventOf<typeof CampaignStopped> | EventOf<typeof CampaignArchived>;
export type BudgetEvent = EventOf<typeof CampaignBudgetSpent>;
export const campaignEvents = [CampaignCreated, CampaignStopped, CampaignArchived, CampaignBudgetSpent];
