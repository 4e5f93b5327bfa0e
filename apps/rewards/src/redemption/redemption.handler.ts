import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CommandRunner, type CommandContext } from '#cqrs';
import type { Position } from '#eventstore';
import { unavailability } from '../catalog/catalog.decider';
import { CatalogHandler } from '../catalog/catalog.handler';
import { redemptionStreamFor } from '../rewards.streams';
import { WalletHandler } from '../wallet/wallet.handler';
import { availablePoints } from '../wallet/wallet.state';
import { redemptionDecider, type RedemptionCommand, type RedemptionState } from './redemption.decider';

/** Why a redemption cannot go ahead: the rejection kinds of the catalog, the wallet and the process. */
export type RedemptionRefusal =
  | 'UnknownMember'
  | 'RewardNotFound'
  | 'RewardInactive'
  | 'TierRequired'
  | 'OutOfCodes'
  | 'RewardNotYetValid'
  | 'RewardExpired'
  | 'OutOfStock'
  | 'MemberLimitReached'
  | 'InsufficientPoints'
  | 'IdempotencyKeyReused';

export type RedeemOutcome =
  /**
   * `code`: the voucher code this call saw handed out (null: none), or undefined when it was handed
   * out before. `position`: of the last redemption event this call wrote, for reading it back from
   * the read models (absent when it wrote none).
   */
  | { readonly ok: true; readonly redemption: RedemptionState; readonly code?: string | null; readonly position?: Position }
  | { readonly ok: false; readonly refusal: RedemptionRefusal; readonly detail?: Readonly<Record<string, unknown>> };

/**
 * A redemption touches two streams, the member's wallet and the reward's stock, and the event
 * store has no transaction across streams. Its own stream is written first and records the intent;
 * then the wallet is debited (guarded by the wallet's revision), then a stock unit reserved (guarded
 * by the reward stream's revision). Points first: they are the member's own, while stock is shared,
 * so a member racing many requests without the points for them never holds a unit an honest buyer
 * is then refused. Stock refused after the debit starts a decline, which gives the points back
 * before it completes. Each step is idempotent by redemption id, so after a crash the same steps are
 * driven again from the redemption stream (by a retried request or the recovery sweep) and take
 * effect once.
 */
@Injectable()
export class RedemptionHandler {
  constructor(
    private readonly commands: CommandRunner,
    private readonly catalog: CatalogHandler,
    private readonly wallets: WalletHandler,
  ) {}

  async redeem(request: { userId: string; rewardId: string; idempotencyKey: string }, context: CommandContext): Promise<RedeemOutcome> {
    const written: Written = {};
    const outcome = await this.redeemNoting(request, { ...context, written });
    return outcome.ok && written.position ? { ...outcome, position: written.position } : outcome;
  }

  private async redeemNoting(
    request: { userId: string; rewardId: string; idempotencyKey: string },
    context: NotingContext,
  ): Promise<RedeemOutcome> {
    const { tenantId, now } = context;
    const { userId, rewardId } = request;
    const redemptionId = redemptionIdFor(tenantId, userId, request.idempotencyKey);
    const fingerprint = createHash('sha256').update(JSON.stringify({ userId, rewardId })).digest('hex');
    const existing = await this.process(tenantId, redemptionId);
    if (existing.request) {
      if (existing.request.fingerprint !== fingerprint) return { ok: false, refusal: 'IdempotencyKeyReused' };
      return this.drive(tenantId, redemptionId, context);
    }
    // Checked before anything is written, so bad requests change nothing; the steps check again.
    const [wallet, reward] = await Promise.all([this.wallets.state(tenantId, userId), this.catalog.reward(tenantId, rewardId)]);
    if (!wallet.state.enrolled) return { ok: false, refusal: 'UnknownMember' };
    const unavailable = unavailability(reward, userId, now, wallet.state.tier);
    if (unavailable?.kind === 'TierRequired')
      return { ok: false, refusal: 'TierRequired', detail: { requiredTiers: unavailable.tiers, memberTier: unavailable.memberTier } };
    if (unavailable) return { ok: false, refusal: unavailable.kind as RedemptionRefusal };
    const cost = reward.terms!.cost;
    const available = availablePoints(wallet.state, now);
    if (available < cost) return { ok: false, refusal: 'InsufficientPoints', detail: { available, requested: cost } };
    const requested = await this.step(
      tenantId,
      redemptionId,
      { type: 'Request', redemptionId, userId, rewardId, cost, fingerprint, now },
      context,
    );
    if (!requested.accepted) return { ok: false, refusal: 'IdempotencyKeyReused' };
    return this.drive(tenantId, redemptionId, context, wallet.state.tier);
  }

  /** Takes an unfinished redemption to its end; a finished one is answered as it stands. */
  async drive(tenantId: string, redemptionId: string, context: CommandContext, tier?: string | null): Promise<RedeemOutcome> {
    const state = await this.process(tenantId, redemptionId);
    if (state.status === 'requested') return this.pay(tenantId, redemptionId, state.request!, context, tier);
    if (state.status === 'cancelling') await this.completeCancellation(tenantId, redemptionId, context);
    else if (state.status === 'declining') await this.completeDecline(tenantId, redemptionId, context);
    return this.answer(await this.process(tenantId, redemptionId));
  }

  /** Debit, reserve, confirm; whichever step is refused decides how the redemption leaves `requested`. */
  private async pay(
    tenantId: string,
    redemptionId: string,
    request: NonNullable<RedemptionState['request']>,
    context: CommandContext,
    knownTier?: string | null,
  ): Promise<RedeemOutcome> {
    const { userId, rewardId, cost } = request;
    // A tier-only reward is checked against the member's tier again at the stock: the request's, or the wallet's when resumed.
    const tier = knownTier !== undefined ? knownTier : (await this.wallets.state(tenantId, userId)).state.tier;
    const debited = await this.wallets.handle({ type: 'Redeem', userId, redemptionId, rewardId, points: cost, now: context.now }, context);
    if (!debited.accepted) {
      await this.step(tenantId, redemptionId, { type: 'Decline', reason: debited.rejection.kind, now: context.now }, context);
    } else {
      const reserved = await this.catalog.reserve(tenantId, rewardId, redemptionId, userId, tier, context);
      // A generated code that met a used one at every draw: the code space is as good as spent.
      const reason = reserved.accepted ? undefined : reserved.rejection.kind === 'CodeTaken' ? 'OutOfCodes' : reserved.rejection.kind;
      const next: RedemptionCommand =
        reason === undefined ? { type: 'Confirm', now: context.now } : { type: 'StartDecline', reason, now: context.now };
      await this.step(tenantId, redemptionId, next, context);
      if (reserved.accepted && reserved.events.length > 0) {
        const outcome = await this.settle(tenantId, redemptionId, context);
        const assigned = reserved.events.find((event) => event.type === 'VoucherCodeAssigned');
        return outcome.ok ? { ...outcome, code: assigned?.data.code ?? null } : outcome;
      }
    }
    return this.settle(tenantId, redemptionId, context);
  }

  /**
   * Another driver of the same redemption (a retried request, the sweep) may have taken it out of
   * `requested` first. A declined redemption keeps nothing, whoever declined it: what this driver
   * took goes back. A confirmed, fulfilled or cancelled one is left as its own flow left it.
   */
  private async settle(tenantId: string, redemptionId: string, context: CommandContext): Promise<RedeemOutcome> {
    const state = await this.process(tenantId, redemptionId);
    if (state.status === 'declining') await this.completeDecline(tenantId, redemptionId, context);
    else if (state.status === 'declined') await this.compensate(tenantId, redemptionId, context);
    else return this.answer(state);
    return this.answer(await this.process(tenantId, redemptionId));
  }

  fulfil(tenantId: string, redemptionId: string, context: CommandContext) {
    return this.step(tenantId, redemptionId, { type: 'Fulfil', now: context.now }, context);
  }

  /** Accepted: `position` is the cancellation's completion, which the read models show as `cancelled`. */
  async cancel(tenantId: string, redemptionId: string, context: CommandContext) {
    const noting = { ...context, written: {} as Written };
    const outcome = await this.step(tenantId, redemptionId, { type: 'Cancel', now: context.now }, noting);
    if (!outcome.accepted) return outcome;
    await this.completeCancellation(tenantId, redemptionId, noting);
    return { ...outcome, position: noting.written.position };
  }

  process(tenantId: string, redemptionId: string): Promise<RedemptionState> {
    return this.commands.load(redemptionStreamFor(tenantId, redemptionId), redemptionDecider).then((loaded) => loaded.state);
  }

  private async completeCancellation(tenantId: string, redemptionId: string, context: NotingContext): Promise<void> {
    await this.compensate(tenantId, redemptionId, context);
    await this.step(tenantId, redemptionId, { type: 'CompleteCancellation', now: context.now }, context);
  }

  private async completeDecline(tenantId: string, redemptionId: string, context: CommandContext): Promise<void> {
    await this.compensate(tenantId, redemptionId, context);
    await this.step(tenantId, redemptionId, { type: 'CompleteDecline', now: context.now }, context);
  }

  /** Gives back the points and the stock unit, each at most once. */
  private async compensate(tenantId: string, redemptionId: string, context: CommandContext): Promise<void> {
    const { request } = await this.process(tenantId, redemptionId);
    const refund = await this.wallets.handle(
      { type: 'CancelRedemption', userId: request!.userId, redemptionId, now: context.now },
      context,
    );
    if (!refund.accepted && refund.rejection.kind !== 'UnknownRedemption')
      throw new Error(`refund of ${redemptionId} refused: ${refund.rejection.kind}`);
    await this.catalog.release(tenantId, request!.rewardId, redemptionId, context);
  }

  private answer(state: RedemptionState): RedeemOutcome {
    return state.status === 'declined' || state.status === 'declining'
      ? { ok: false, refusal: state.declinedFor as RedemptionRefusal }
      : { ok: true, redemption: state };
  }

  private async step(tenantId: string, redemptionId: string, command: RedemptionCommand, context: NotingContext) {
    const outcome = await this.commands.handle({
      streamName: redemptionStreamFor(tenantId, redemptionId),
      decider: redemptionDecider,
      command,
      context,
    });
    // Steps run one after another, so the last append is the furthest in the log.
    if (context.written && outcome.accepted && outcome.position) context.written.position = outcome.position;
    return outcome;
  }
}

/** Where the steps of one call note how far in the log they wrote. */
interface Written {
  position?: Position;
}
type NotingContext = CommandContext & { readonly written?: Written };

/** The same member and key always name the same redemption, which is what makes the key idempotent. */
export function redemptionIdFor(tenantId: string, userId: string, idempotencyKey: string): string {
  const hex = createHash('sha256').update(`${tenantId}\n${userId}\n${idempotencyKey}`).digest('hex');
  // Shaped as a UUID (version 8: custom) so it fits the read model's uuid columns.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
