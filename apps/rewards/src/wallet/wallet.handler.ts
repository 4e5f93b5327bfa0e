import { Injectable } from '@nestjs/common';
import { CommandRunner, type CommandContext } from '#cqrs';
import { walletStreamFor } from '../rewards.streams';
import { walletDecider, type WalletCommand } from './wallet.decider';
import type { WalletState } from './wallet.state';

/** Every change to a wallet goes through here: one decider, one stream per member. */
@Injectable()
export class WalletHandler {
  constructor(private readonly commands: CommandRunner) {}

  handle(command: WalletCommand, context: CommandContext) {
    return this.commands.handle({
      streamName: walletStreamFor(context.tenantId, command.userId),
      decider: walletDecider,
      command,
      context,
    });
  }

  async state(tenantId: string, userId: string): Promise<{ state: WalletState; revision: bigint }> {
    return this.commands.load(walletStreamFor(tenantId, userId), walletDecider);
  }
}
