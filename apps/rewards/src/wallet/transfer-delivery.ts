import { setTimeout as delay } from 'node:timers/promises';
import { conflictDelayMs, type CommandContext, type CommandRunner, type EventCodec, type EventEnvelope, type Projection } from '#cqrs';
import { WrongExpectedRevisionError, type EventStore } from '#eventstore';
import { walletStreamFor, WALLET_STREAM_PREFIX } from '../rewards.streams';
import type { TransferIn, TransferOut } from './transfer';
import { walletDecider, type WalletRejection } from './wallet.decider';
import type { PointsTransferredOut, WalletEvent } from './wallet.events';

type TransferSent = ReturnType<typeof PointsTransferredOut>['data'];

/** What a transfer made together came to: the sender's events (none for a retry), or why the sender's wallet refused. */
export type TransferTogether =
  { readonly accepted: true; readonly events: readonly WalletEvent[] } | { readonly accepted: false; readonly rejection: WalletRejection };

/** Conflicts on either wallet are decided again on what the winner wrote; ten senders to one recipient settle well within this. */
const TOGETHER_RETRY = { retries: 30, baseDelayMs: 2, maxDelayMs: 50 };

/**
 * The second half of a transfer: the points the sender's wallet gave (`PointsTransferredOut`, the
 * decision) go to the recipient's, or back to the sender when the recipient's wallet refuses them
 * (closed by an erasure since, or full). Each half is idempotent by transfer id, so the request
 * that made the transfer and the `rewards.transfers` projection (which follows every one from
 * the log, and so finishes what a crash between the two appends left) may both run it.
 */
export class TransferDelivery {
  constructor(
    private readonly commands: CommandRunner,
    private readonly store?: Pick<EventStore, 'appendToStreamsExpecting'>,
    private readonly codec?: EventCodec,
  ) {}

  /** Whether both halves can be appended as one (PostgreSQL); on EventStoreDB it is two appends and the log. */
  get together(): boolean {
    return this.store?.appendToStreamsExpecting !== undefined && this.codec !== undefined;
  }

  /**
   * Both halves in one atomic append, each wallet at the revision it was decided on: the debit and
   * the credit are stored together or not at all (a crash or a conflict between them leaves
   * neither). Undefined when this cannot be (the store cannot, or the recipient's wallet refuses
   * the points): the caller then takes the two-append path, which gives refused points back.
   */
  async transferTogether(command: TransferOut, context: CommandContext): Promise<TransferTogether | undefined> {
    const appendTogether = this.store?.appendToStreamsExpecting?.bind(this.store);
    const codec = this.codec;
    if (!appendTogether || !codec) return undefined;
    const [senderStream, recipientStream] = [
      walletStreamFor(context.tenantId, command.userId),
      walletStreamFor(context.tenantId, command.to),
    ];
    for (let attempt = 0; ; attempt++) {
      const [sender, recipient] = await Promise.all([
        this.commands.load(senderStream, walletDecider),
        this.commands.load(recipientStream, walletDecider),
      ]);
      const out = walletDecider.decide(command, sender.state);
      if (!out.accepted || out.events.length === 0) return out;
      const sent = out.events.find((event) => event.type === 'PointsTransferredOut')!.data;
      const credit: TransferIn = {
        type: 'TransferIn',
        userId: sent.to,
        transferId: sent.transferId,
        from: sent.userId,
        points: sent.points,
        expiresAt: sent.expiresAt,
        returned: false,
        now: new Date(sent.transferredAt),
      };
      const into = walletDecider.decide(credit, recipient.state);
      if (!into.accepted || into.events.length === 0) return undefined;
      try {
        await appendTogether([
          { streamName: senderStream, expectedRevision: sender.revision, events: await codec.encodeAll(out.events, context) },
          { streamName: recipientStream, expectedRevision: recipient.revision, events: await codec.encodeAll(into.events, context) },
        ]);
        return out;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= TOGETHER_RETRY.retries) throw error;
        await delay(conflictDelayMs(TOGETHER_RETRY, attempt + 1, Math.random()));
      }
    }
  }

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
