import type { EntityManager } from 'typeorm';
import type { CommandContext, CommandRunner } from '#cqrs';
import { walletStreamFor } from '../rewards.streams';
import { walletDecider, type WalletCommand } from '../wallet/wallet.decider';
import type { WalletEvent } from '../wallet/wallet.events';

/** One member's commands of a batch, in log order. */
export interface WalletWork {
  readonly tenantId: string;
  readonly userId: string;
  readonly items: readonly { readonly command: WalletCommand; readonly context: CommandContext }[];
}

/** What a batch did to one wallet. */
export interface WalletChange {
  readonly tenantId: string;
  readonly userId: string;
  readonly events: readonly WalletEvent[];
}

/**
 * Decides a whole batch of wallet commands and writes it, set-based, through the command runner's
 * batches (CommandRunner.handleBatch): the wallets it touches are folded (from the runner's cache,
 * or read from the store in one query), each wallet's commands are decided in order on its state,
 * and every wallet with something to append gets one append.
 *
 * On the PostgreSQL store the appends of all wallets are one statement inside the projection's
 * own transaction, so the wallet changes and the checkpoint commit or vanish together, and the
 * cache learns the wallets' states only once that transaction committed. On another store
 * (EventStoreDB) each wallet is appended on its own before the checkpoint commits; a crash in
 * between replays the batch, and the wallet's record of the source ids it has seen turns the
 * replay into nothing.
 */
export class WalletBatches {
  constructor(private readonly commands: CommandRunner) {}

  /** Decides and writes every wallet's commands; answers what changed. */
  async apply(work: readonly WalletWork[], tx: EntityManager): Promise<WalletChange[]> {
    const changes = await this.commands.handleBatch({
      decider: walletDecider,
      work: work.map((wallet) => ({ streamName: walletStreamFor(wallet.tenantId, wallet.userId), commands: wallet.items, wallet })),
      transaction: tx,
    });
    return changes.map(({ work: { wallet }, events }) => ({ tenantId: wallet.tenantId, userId: wallet.userId, events }));
  }
}
