import { isDeepStrictEqual } from 'node:util';
import { accept, reject, type Decider } from '#cqrs';
import {
  CampaignArchived,
  CampaignBudgetSpent,
  CampaignCreated,
  CampaignStopped,
  type BudgetEvent,
  type CampaignDefinition,
  type CampaignEvent,
} from './campaign.events';

/** Campaigns a tenant may have that are not archived: each is checked on every event it could reward. */
export const MAX_LIVE_CAMPAIGNS = 50;

export interface CampaignRecord {
  readonly definition: CampaignDefinition;
  readonly createdAt: string;
  readonly stoppedAt: string | null;
  readonly archivedAt: string | null;
}

/** A tenant's campaigns, by id, in the order they were created. */
export interface CampaignsState {
  readonly campaigns: ReadonlyMap<string, CampaignRecord>;
}

export type CampaignCommand =
  | { readonly type: 'Create'; readonly campaign: CampaignDefinition; readonly now: Date }
  | { readonly type: 'Stop'; readonly campaignId: string; readonly now: Date }
  | { readonly type: 'Archive'; readonly campaignId: string; readonly now: Date };

export type CampaignRejection =
  | { readonly kind: 'InvalidCampaign'; readonly errors: readonly { pointer: string; message: string }[] }
  /** The id is taken by a campaign with other terms (the same terms again are a retry: nothing happens). */
  | { readonly kind: 'CampaignExists'; readonly campaignId: string }
  | { readonly kind: 'CampaignNotFound'; readonly campaignId: string }
  | { readonly kind: 'TooManyCampaigns'; readonly limit: number };

/** Campaigns that are neither stopped nor archived: the ones earning checks. */
export function liveCampaigns(state: CampaignsState): CampaignDefinition[] {
  return [...state.campaigns.values()].filter((record) => record.stoppedAt === null).map((record) => record.definition);
}

export const campaignsDecider: Decider<CampaignCommand, CampaignEvent, CampaignsState, CampaignRejection> = {
  initialState: () => ({ campaigns: new Map() }),
  evolve(state, event) {
    const campaigns = new Map(state.campaigns);
    switch (event.type) {
      case 'CampaignCreated': {
        const { createdAt, ...definition } = event.data;
        campaigns.set(definition.campaignId, { definition, createdAt, stoppedAt: null, archivedAt: null });
        break;
      }
      case 'CampaignStopped': {
        const record = campaigns.get(event.data.campaignId);
        if (record) campaigns.set(event.data.campaignId, { ...record, stoppedAt: record.stoppedAt ?? event.data.stoppedAt });
        break;
      }
      case 'CampaignArchived': {
        const record = campaigns.get(event.data.campaignId);
        const at = event.data.archivedAt;
        if (record) campaigns.set(event.data.campaignId, { ...record, stoppedAt: record.stoppedAt ?? at, archivedAt: at });
        break;
      }
    }
    return { campaigns };
  },
  decide(command, state) {
    const at = command.now.toISOString();
    if (command.type === 'Create') {
      const { campaign } = command;
      const existing = state.campaigns.get(campaign.campaignId);
      // A retried create (the same id and terms) is answered as the first; other terms under a taken id are refused.
      if (existing)
        return isDeepStrictEqual(existing.definition, campaign)
          ? accept()
          : reject({ kind: 'CampaignExists', campaignId: campaign.campaignId });
      const errors = campaignErrors(campaign);
      if (errors.length > 0) return reject({ kind: 'InvalidCampaign', errors });
      const live = [...state.campaigns.values()].filter((record) => record.archivedAt === null).length;
      if (live >= MAX_LIVE_CAMPAIGNS) return reject({ kind: 'TooManyCampaigns', limit: MAX_LIVE_CAMPAIGNS });
      return accept(CampaignCreated({ ...campaign, createdAt: at }));
    }
    const record = state.campaigns.get(command.campaignId);
    if (!record) return reject({ kind: 'CampaignNotFound', campaignId: command.campaignId });
    if (command.type === 'Stop')
      return record.stoppedAt !== null ? accept() : accept(CampaignStopped({ campaignId: command.campaignId, stoppedAt: at }));
    return record.archivedAt !== null ? accept() : accept(CampaignArchived({ campaignId: command.campaignId, archivedAt: at }));
  },
};

/** Rules the shape of the request cannot express; each names the JSON pointer at fault. */
function campaignErrors(campaign: CampaignDefinition): { pointer: string; message: string }[] {
  const errors: { pointer: string; message: string }[] = [];
  if (campaign.validUntil !== null && campaign.validUntil <= campaign.validFrom)
    errors.push({ pointer: '/validUntil', message: 'must be after validFrom' });
  const hours = campaign.schedule?.hours;
  if (hours && hours.until <= hours.from) errors.push({ pointer: '/schedule/hours/until', message: 'must be after from' });
  const { bonus, multiplier, tierMultipliers } = campaign.award;
  if (bonus === 0 && (multiplier ?? 1) === 1 && Object.values(tierMultipliers).every((each) => each === 1))
    errors.push({ pointer: '/award', message: 'must give something: a bonus, or a multiplier above 1' });
  return errors;
}

/** What a campaign gave out so far. */
export interface BudgetState {
  readonly spent: number;
  readonly awards: number;
}

/** Earning records a batch's spending; `budget` is the campaign's (null: none). */
export type SpendBudget = {
  readonly campaignId: string;
  readonly points: number;
  readonly awards: number;
  readonly budget: number | null;
  readonly now: Date;
};

export type BudgetRejection = { readonly kind: 'BudgetExceeded'; readonly budget: number; readonly spent: number; readonly points: number };

/**
 * The last word on a campaign's budget: earning sets aside at most what is left for each event
 * before the wallets decide, so a spend past the budget means another writer raced it; refused,
 * the batch rolls back and is applied again on the newer total.
 */
export const budgetDecider: Decider<SpendBudget, BudgetEvent, BudgetState, BudgetRejection> = {
  initialState: () => ({ spent: 0, awards: 0 }),
  evolve: (state, event) => ({ spent: event.data.spent, awards: state.awards + event.data.awards }),
  decide(command, state) {
    const { campaignId, points, awards, budget, now } = command;
    if (points === 0) return accept();
    if (budget !== null && state.spent + points > budget) return reject({ kind: 'BudgetExceeded', budget, spent: state.spent, points });
    return accept(CampaignBudgetSpent({ campaignId, points, awards, spent: state.spent + points, spentAt: now.toISOString() }));
  },
};
