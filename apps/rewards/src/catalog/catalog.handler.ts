import { createHash, randomInt } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { CommandRunner, type CommandContext } from '#cqrs';
import { rewardStreamFor } from '../rewards.streams';
import { catalogDecider, type CatalogCommand, type RewardState } from './catalog.decider';
import type { EditableTerms, RewardTerms } from './catalog.events';
import { drawCode } from './catalog.rules';

type NewReward = Omit<RewardTerms, 'rewardId' | 'category' | 'tiers' | 'voucher'> &
  Partial<Pick<RewardTerms, 'category' | 'tiers' | 'voucher'>>;

/** Draws of a generated code that may meet one handed out before (32^6 and up: practically never twice). */
const CODE_DRAWS = 5;

@Injectable()
export class CatalogHandler {
  constructor(private readonly commands: CommandRunner) {}

  /** Category, tiers and voucher policy default to none. */
  async create(terms: NewReward, context: CommandContext, codes: readonly string[] = []) {
    const rewardId = uuidv7();
    const complete: RewardTerms = { category: null, tiers: null, voucher: null, ...terms, rewardId };
    const outcome = await this.commands.handle({
      streamName: rewardStreamFor(context.tenantId, rewardId),
      decider: catalogDecider,
      command: { type: 'CreateReward', terms: complete, codes, now: context.now },
      context,
      expectNewStream: true,
    });
    return { rewardId, outcome };
  }

  update(tenantId: string, rewardId: string, changes: Partial<EditableTerms>, context: CommandContext) {
    return this.handle(tenantId, rewardId, { type: 'UpdateReward', changes, now: context.now }, context);
  }

  /** Without an Idempotency-Key each call is its own restock. */
  restock(tenantId: string, rewardId: string, units: number, key: string | undefined, context: CommandContext) {
    const restockId = key ? `restock:${digest(key)}` : `restock:${uuidv7()}`;
    return this.handle(tenantId, rewardId, { type: 'Restock', restockId, units, now: context.now }, context);
  }

  setActive(tenantId: string, rewardId: string, active: boolean, context: CommandContext) {
    return this.handle(tenantId, rewardId, { type: active ? 'Reactivate' : 'Deactivate', now: context.now }, context);
  }

  importCodes(tenantId: string, rewardId: string, codes: readonly string[], key: string | undefined, context: CommandContext) {
    const importId = key ? `import:${digest(key)}` : `import:${uuidv7()}`;
    return this.handle(tenantId, rewardId, { type: 'ImportCodes', importId, codes, now: context.now }, context);
  }

  /**
   * A generated code is drawn for each decision on the reward's state (a lost race decides again,
   * with a fresh draw); one that meets a code handed out before is drawn again.
   */
  async reserve(tenantId: string, rewardId: string, redemptionId: string, userId: string, tier: string | null, context: CommandContext) {
    for (let draw = 1; ; draw++) {
      const outcome = await this.commands.handle({
        streamName: rewardStreamFor(tenantId, rewardId),
        decider: catalogDecider,
        command: async (state: RewardState): Promise<CatalogCommand> => {
          const voucher = state.terms?.voucher;
          const code = voucher?.kind === 'generated' ? drawCode(voucher, (bound) => randomInt(bound)) : undefined;
          return { type: 'ReserveStock', redemptionId, userId, tier, code, now: context.now };
        },
        context,
      });
      if (outcome.accepted || outcome.rejection.kind !== 'CodeTaken' || draw === CODE_DRAWS) return outcome;
    }
  }

  release(tenantId: string, rewardId: string, redemptionId: string, context: CommandContext) {
    return this.handle(tenantId, rewardId, { type: 'ReleaseStock', redemptionId, now: context.now }, context);
  }

  async reward(tenantId: string, rewardId: string): Promise<RewardState> {
    return (await this.commands.load(rewardStreamFor(tenantId, rewardId), catalogDecider)).state;
  }

  private handle(tenantId: string, rewardId: string, command: CatalogCommand, context: CommandContext) {
    return this.commands.handle({ streamName: rewardStreamFor(tenantId, rewardId), decider: catalogDecider, command, context });
  }
}

/** An Idempotency-Key as an id: its digest, so the key itself is not stored. */
const digest = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 32);
