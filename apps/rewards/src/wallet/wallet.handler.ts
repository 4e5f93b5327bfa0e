import { Injectable } from '@nestjs/common';
import type { CommandContext } from '#cqrs';
import { walletStreamFor } from '../rewards.streams';
import { CachedStreams } from '../shared/cached-streams';
import { walletDecider, type WalletCommand } from './wallet.decider';
import type { WalletState } from './wallet.state';

/** Every change to a wallet goes through here: one decider, one stream per member. */
@Injectable()
export class WalletHandler {
  constructor(private readonly streams: CachedStreams) {}

  handle(command: WalletCommand, context: CommandContext) {
    return this.streams.handle({ streamName: walletStreamFor(context.tenantId, command.userId), decider: walletDecider, command, context });
  }

  async state(tenantId: string, userId: string): Promise<{ state: WalletState; revision: bigint }> {
    return this.streams.load(walletStreamFor(tenantId, userId), walletDecider);
  }
}
