import { Injectable } from '@nestjs/common';
import { CommandRunner, type CommandContext } from '#cqrs';
import { campaignBudgetStreamFor, campaignsStreamFor } from '../rewards.streams';
import { budgetDecider, campaignsDecider, type BudgetState, type CampaignCommand, type CampaignsState } from './campaign.decider';

/** A tenant's campaigns: created, stopped and archived on the tenant's campaign stream. */
@Injectable()
export class CampaignHandler {
  constructor(private readonly commands: CommandRunner) {}

  /** Creates, stops or archives; a concurrent change of another campaign is decided again on the newer stream. */
  change(command: CampaignCommand, context: CommandContext) {
    return this.commands.handle({ streamName: campaignsStreamFor(context.tenantId), decider: campaignsDecider, command, context });
  }

  async campaigns(tenantId: string): Promise<CampaignsState> {
    return (await this.commands.load(campaignsStreamFor(tenantId), campaignsDecider)).state;
  }

  /** What the campaign gave out so far, as earning recorded it. */
  async spending(tenantId: string, campaignId: string): Promise<BudgetState> {
    return (await this.commands.load(campaignBudgetStreamFor(tenantId, campaignId), budgetDecider)).state;
  }
}
