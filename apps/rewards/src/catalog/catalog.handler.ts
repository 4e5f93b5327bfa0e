import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { CommandRunner, type CommandContext } from '#cqrs';
import { rewardStreamFor } from '../rewards.streams';
import { catalogDecider, type RewardState } from './catalog.decider';
import type { RewardTerms } from './catalog.events';

@Injectable()
export class CatalogHandler {
  constructor(private readonly commands: CommandRunner) {}

  async create(terms: Omit<RewardTerms, 'rewardId'>, context: CommandContext) {
    const rewardId = uuidv7();
    const outcome = await this.commands.handle({
      streamName: rewardStreamFor(context.tenantId, rewardId),
      decider: catalogDecider,
      command: { type: 'CreateReward', terms: { ...terms, rewardId }, now: context.now },
      context,
    });
    return { rewardId, outcome };
  }

  reserve(tenantId: string, rewardId: string, redemptionId: string, userId: string, context: CommandContext) {
    return this.commands.handle({
      streamName: rewardStreamFor(tenantId, rewardId),
      decider: catalogDecider,
      command: { type: 'ReserveStock', redemptionId, userId, now: context.now },
      context,
    });
  }

  release(tenantId: string, rewardId: string, redemptionId: string, context: CommandContext) {
    return this.commands.handle({
      streamName: rewardStreamFor(tenantId, rewardId),
      decider: catalogDecider,
      command: { type: 'ReleaseStock', redemptionId, now: context.now },
      context,
    });
  }

  async reward(tenantId: string, rewardId: string): Promise<RewardState> {
    return (await this.commands.load(rewardStreamFor(tenantId, rewardId), catalogDecider)).state;
  }
}
