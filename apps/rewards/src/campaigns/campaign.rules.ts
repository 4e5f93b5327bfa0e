import { BOUNDS } from '#platform';
import { conditionsHold, type SourceEvent } from '../program/program.rules';
import { wallClock } from '../shared/calendar';
import { WEEKDAYS, type CampaignAward, type CampaignDefinition } from './campaign.events';

/** What the campaign's per-member limits read off the member's wallet before the event. */
export interface MemberStanding {
  /** The member's tier before the event (an upgrade the event buys counts from the next one). */
  readonly tier: string | null;
  /** What the campaign gave this member so far. */
  readonly awards: number;
  readonly points: number;
  /** Orders that earned in the wallet so far, and whether the event's order (if it names one) is one of them. */
  readonly orders: number;
  readonly orderId: string | null;
  readonly orderSeen: boolean;
}

/** Whether the campaign runs at `at`: within its window, on one of its days, within its hours (wall-clock). */
export function campaignRunsAt(campaign: CampaignDefinition, at: Date): boolean {
  const iso = at.toISOString();
  if (iso < campaign.validFrom || (campaign.validUntil !== null && iso >= campaign.validUntil)) return false;
  const schedule = campaign.schedule;
  if (!schedule) return true;
  const { weekday, hour } = wallClock(at, schedule.timeZone);
  if (!schedule.days.includes(WEEKDAYS[weekday]!)) return false;
  return schedule.hours === null || (hour >= schedule.hours.from && hour < schedule.hours.until);
}

/** Whether a source event, recorded at `at`, is one the campaign rewards (before its limits). */
export function campaignMatches(campaign: CampaignDefinition, source: SourceEvent, at: Date): boolean {
  return (
    campaign.event === source.name &&
    campaign.sources.includes(source.kind) &&
    campaignRunsAt(campaign, at) &&
    conditionsHold(campaign.conditions, source.properties)
  );
}

/** The multiplier a member of `tier` gets: their tier's own if the campaign names it, else the campaign's. */
export function multiplierFor(award: CampaignAward, tier: string | null): number {
  const own = tier !== null && Object.hasOwn(award.tierMultipliers, tier) ? award.tierMultipliers[tier] : undefined;
  return own ?? award.multiplier ?? 1;
}

/** Points a campaign adds to `base` program points at a multiplier: the bonus and the multiplied part, rounded down. */
function extraPoints(award: CampaignAward, base: number, multiplier: number): number {
  // toFixed first: 0.1 * 3 is 0.30000000000000004 in binary, and 10 * 0.7 must not floor to 6.
  const multiplied = multiplier > 1 ? Math.floor(Number((base * (multiplier - 1)).toFixed(6))) : 0;
  return Math.min(BOUNDS.points, award.bonus + multiplied);
}

/**
 * The most the campaign could give an event whose program rules earn at most `baseCeiling`:
 * the highest multiplier any tier gets. Earning sets this much of the budget aside for the event
 * before the wallet decides, so that the events of one batch never promise more than is left.
 */
export function campaignCeiling(campaign: CampaignDefinition, baseCeiling: number): number {
  const highest = Math.max(campaign.award.multiplier ?? 1, ...Object.values(campaign.award.tierMultipliers));
  return extraPoints(campaign.award, baseCeiling, highest);
}

/**
 * What the campaign gives a member for an event the program earned them `base` points on
 * (after its caps and limits), within the member's limits of the campaign; 0 when a limit is
 * reached or the event is not one of their first orders.
 */
export function campaignAward(campaign: CampaignDefinition, base: number, member: MemberStanding): number {
  const { perMemberAwards, perMemberPoints, firstOrders } = campaign.limits;
  if (perMemberAwards !== null && member.awards >= perMemberAwards) return 0;
  if (firstOrders !== null && (member.orderId === null || member.orderSeen || member.orders >= firstOrders)) return 0;
  const points = extraPoints(campaign.award, base, multiplierFor(campaign.award, member.tier));
  return Math.max(0, Math.min(points, perMemberPoints === null ? points : perMemberPoints - member.points));
}

/** A campaign an event matched, with the share of its budget set aside for the event (the most it may give). */
export interface CampaignOffer {
  readonly campaign: CampaignDefinition;
  readonly allowance: number;
}
