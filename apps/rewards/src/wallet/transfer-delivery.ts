import type { CommandContext, CommandRunner, EventEnvelope, Projection } from '#cqrs';
import { walletStreamFor, WALLET_STREAM_PREFIX } from '../rewards.streams';
import { walletDecider } from './wallet.decider';
import type { PointsTransferredOut } from './wallet.events';

type TransferSent = ReturnType<typeof PointsTransferredOut>['data'];

/**
 * The second half of a transfer: the points the sender's wallet gave (`PointsTransferredOut`, the
 * decision) go to the recipient's, or back to the sender when the recipient's wallet refuses them
 * (closed by an erasure since, or full). Each half is idempotent by transfer id, so the request
 * that made the transfer and the `rewards.transfers` projection (which follows every one from
 * the log, and so finishes what a crash between the two appends left) may both run it.
 */
export class TransferDelivery {
  constructor(private readonly commands: CommandRunner) {}

  async deliver(tenantId: string, sent: TransferSent, correlationId: string): Promise<'credited' | 'returned'> {
    // Decided at the moment of the transfer, whoever delivers it and when.
    const context: CommandContext = { tenantId, correlationId, now: new Date(sent.transferredAt) };
    const common = {
      type: 'TransferIn',
      transferId: sent.transferId,
      points: sent.points,
      expiresAt: sent.expiresAt,
      now: context.now,
    } as const;
    const credited = await this.commands.handle({
      streamName: walletStreamFor(tenantId, sent.to),
      decider: walletDecider,
      command: { ...common, userId: sent.to, from: sent.userId, returned: false },
      context,
    });
    if (credited.accepted) return 'credited';
    await this.commands.handle({
      streamName: walletStreamFor(tenantId, sent.userId),
      decider: walletDecider,
      command: { ...common, userId: sent.userId, from: sent.to, returned: true },
      context,
    });
    return 'returned';
  }

  /** Follows every transfer in the log (its checkpoint: `rewards.transfers`). */
  projection(): Projection {
    return {
      name: TRANSFERS_PROJECTION,
      filter: { streamNamePrefixes: [WALLET_STREAM_PREFIX], eventTypePrefixes: ['PointsTransferredOut'] },
      applyBatch: async (envelopes: readonly EventEnvelope[]) => {
        for (const envelope of envelopes) {
          const event = envelope.event as ReturnType<typeof PointsTransferredOut>;
          await this.deliver(envelope.metadata.tenantId, event.data, envelope.metadata.correlationId);
        }
      },
    };
  }
}

export const TRANSFERS_PROJECTION = 'rewards.transfers';
