import type { EntityManager } from 'typeorm';
import type { CommandContext, CommandRunner, EventCodec, EventEnvelope } from '#cqrs';
import { WrongExpectedRevisionError, type AppendedEvents, type EventStore, type Position } from '#eventstore';
import { BOUNDS } from '#platform';
import { budgetDecider, campaignsDecider, liveCampaigns, type CampaignsState } from '../campaigns/campaign.decider';
import type { CampaignDefinition, CampaignEvent } from '../campaigns/campaign.events';
import { campaignCeiling, campaignMatches, type CampaignOffer } from '../campaigns/campaign.rules';
import type { ProgramDefinition } from '../program/program.events';
import { awardPoints, matchingRules, type SourceEvent } from '../program/program.rules';
import { campaignBudgetStreamFor, campaignsStreamFor } from '../rewards.streams';
import { TenantStreamAsOf } from './as-of-log';
import type { WalletChange } from './wallet-batch';

/**
 * Campaigns in earning. Each event matched by a tenant's live campaigns (as of its place in the
 * log) is offered to the wallet with an allowance: the most the campaign could give it, out of
 * what is left of its budget. Allowances are set aside in log order across the batch before the
 * wallets decide, so however many members' events race for the last points, the wallets of one
 * batch never get more than is left; a wallet takes at most its allowance (often less: a tier's
 * lower multiplier, a per-member limit), and what it did not take is back in the budget at the
 * next batch. The batch then records what each campaign gave on the campaign's budget stream, in
 * the same transaction as the wallet appends on PostgreSQL (one commits only with the other), and
 * the budget decider refuses a total past the budget (a concurrent writer), rolling the batch back.
 */
export class CampaignBudgets {
  private readonly campaigns: TenantStreamAsOf<CampaignEvent, CampaignsState>;

  constructor(
    private readonly commands: CommandRunner,
    store: EventStore,
    codec: EventCodec,
  ) {
    this.campaigns = new TenantStreamAsOf(store, codec, campaignsStreamFor, campaignsDecider);
  }

  forget(): void {
    this.campaigns.forget();
  }

  published(envelope: EventEnvelope<CampaignEvent>): void {
    this.campaigns.published(envelope);
  }

  /** One batch's allowances and spending. */
  batch(): BatchBudgets {
    return new BatchBudgets(this.commands, this.campaigns);
  }
}

/** The budget of one campaign as a batch sees it. */
interface Budget {
  readonly tenantId: string;
  readonly campaign: CampaignDefinition;
  /** Points not yet set aside (null: no budget). */
  left: number | null;
}

export class BatchBudgets {
  private readonly budgets = new Map<string, Budget>();

  constructor(
    private readonly commands: CommandRunner,
    private readonly campaigns: TenantStreamAsOf<CampaignEvent, CampaignsState>,
  ) {}

  /** The campaigns that may add to a source event, each with its allowance; none for most events. */
  async offersFor(tenantId: string, position: Position, source: SourceEvent, program: ProgramDefinition | undefined, at: Date) {
    const matched = liveCampaigns(await this.campaigns.at(tenantId, position)).filter((campaign) => campaignMatches(campaign, source, at));
    const offers: CampaignOffer[] = [];
    for (const campaign of matched) {
      const budget = await this.budgetOf(tenantId, campaign);
      const allowance = Math.min(campaignCeiling(campaign, baseCeiling(program, source)), budget.left ?? BOUNDS.points);
      if (allowance <= 0) continue;
      if (budget.left !== null) budget.left -= allowance;
      offers.push({ campaign, allowance });
    }
    return offers;
  }

  /** Records what each campaign gave in the batch's wallet changes (in `tx` where the store can). */
  async spend(changes: readonly WalletChange[], context: CommandContext, tx: EntityManager): Promise<AppendedEvents[]> {
    const given = new Map<string, { points: number; awards: number }>();
    for (const change of changes)
      for (const event of change.events) {
        if (event.type !== 'PointsEarned') continue;
        for (const share of event.data.campaigns ?? []) {
          const key = `${change.tenantId}.${share.campaignId}`;
          const sum = given.get(key) ?? { points: 0, awards: 0 };
          given.set(key, { points: sum.points + share.points, awards: sum.awards + 1 });
        }
      }
    const work = [...given].map(([key, { points, awards }]) => {
      const { tenantId, campaign } = this.budgets.get(key)!;
      const command = { campaignId: campaign.campaignId, points, awards, budget: campaign.limits.budget, now: context.now };
      return {
        streamName: campaignBudgetStreamFor(tenantId, campaign.campaignId),
        commands: [{ command, context: { ...context, tenantId } }],
      };
    });
    const changed = await this.commands.handleBatch({ decider: budgetDecider, work, transaction: tx, retriesOnConflict: 0 });
    // A refused spend appends nothing: the batch must not commit the wallet points it would not count.
    // Another writer spent meanwhile; a transient failure, so the runner applies the batch again on the newer total.
    const refused = work.find((each) => !changed.some((change) => change.work.streamName === each.streamName));
    if (refused) throw new WrongExpectedRevisionError(refused.streamName, 'any');
    return changed.map(({ work: { streamName }, events }) => ({ streamName, types: events.map((event) => event.type) }));
  }

  private async budgetOf(tenantId: string, campaign: CampaignDefinition): Promise<Budget> {
    const key = `${tenantId}.${campaign.campaignId}`;
    let budget = this.budgets.get(key);
    if (!budget) {
      const limit = campaign.limits.budget;
      const spent =
        limit === null ? 0 : (await this.commands.load(campaignBudgetStreamFor(tenantId, campaign.campaignId), budgetDecider)).state.spent;
      budget = { tenantId, campaign, left: limit === null ? null : Math.max(0, limit - spent) };
      this.budgets.set(key, budget);
    }
    return budget;
  }
}

/** The most the program's rules can earn on the event (before the member's caps): what a multiplier multiplies at most. */
function baseCeiling(program: ProgramDefinition | undefined, source: SourceEvent): number {
  if (!program) return 0;
  const sum = matchingRules(program, source).reduce((total, rule) => total + awardPoints(rule.award, source.properties), 0);
  // The member's tier may multiply the rules' points (a benefit of the tier): the highest one, at most.
  const benefit = Math.max(1, ...(program.tiers?.levels ?? []).map((level) => level.earningMultiplier ?? 1));
  return Math.min(Math.ceil(sum * benefit), program.limits.maxPointsPerEvent ?? BOUNDS.points, BOUNDS.points);
}
