import type { JsonObject } from '#eventstore';
import type { WebhookEventType, WebhookSettings } from './webhook.events';

/** The facts of a redemption its later events do not repeat (they name only the redemption). */
export interface RedemptionFacts {
  readonly userId: string;
  readonly rewardId: string;
  readonly cost: number;
}

/** One stored event, as the router sees it. */
export interface StoredEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly createdAt: Date;
}

/**
 * A rewards event as a webhook message, `{id, type, timestamp, data}` (the Standard Webhooks payload
 * shape), or undefined for an event no webhook announces. Only named fields go out: an adjustment's
 * reason is the member's personal data and stays in the wallet; `id` (the event's) lets a receiver
 * drop a message it has seen. Pure: the redemption's facts come in with it.
 */
export function webhookMessage(event: StoredEvent, redemption?: RedemptionFacts): JsonObject | undefined {
  const typed = messageOf(event.type, event.data, redemption);
  if (!typed) return undefined;
  return { id: event.id, type: typed.type, timestamp: event.createdAt.toISOString(), data: typed.data };
}

/** The message type an event becomes, without building it (the router asks before it loads anything). */
export function webhookTypeOf(eventType: string): WebhookEventType | undefined {
  return TYPES[eventType];
}

/** Whether an endpoint takes a message type. */
export function takes(settings: WebhookSettings, type: WebhookEventType): boolean {
  return settings.enabled && (settings.events === null || settings.events.includes(type));
}

const TYPES: Record<string, WebhookEventType> = {
  PointsEarned: 'points.earned',
  PointsRedeemed: 'points.spent',
  PointsExpired: 'points.expired',
  PointsExpiringSoon: 'points.expiring_soon',
  PointsAdjusted: 'points.adjusted',
  PointsClawedBack: 'points.clawed_back',
  PointsTransferredOut: 'points.transferred_out',
  PointsTransferredIn: 'points.transferred_in',
  ReferralRewarded: 'points.referral',
  TierChanged: 'tier.changed',
  RedemptionConfirmed: 'redemption.created',
  RedemptionFulfilled: 'redemption.fulfilled',
  RedemptionCancellationCompleted: 'redemption.cancelled',
};

function messageOf(
  eventType: string,
  d: JsonObject,
  redemption?: RedemptionFacts,
): { type: WebhookEventType; data: JsonObject } | undefined {
  const type = TYPES[eventType];
  if (!type) return undefined;
  switch (eventType) {
    case 'PointsEarned':
      return {
        type,
        data: pick(d, ['userId', 'points', 'lotId', 'ruleId', 'sourceEventId', 'earnedAt', 'expiresAt', 'orderId']),
      };
    case 'PointsRedeemed':
      return { type, data: pick(d, ['userId', 'points', 'redemptionId', 'rewardId', 'redeemedAt']) };
    case 'PointsExpiringSoon':
      return { type, data: pick(d, ['userId', 'points', 'lotId', 'expiresAt', 'remindedAt']) };
    case 'PointsExpired':
      return { type, data: pick(d, ['userId', 'points', 'lotId', 'expiredAt']) };
    case 'PointsAdjusted':
      return { type, data: pick(d, ['userId', 'points', 'adjustmentId', 'actor', 'adjustedAt']) };
    case 'PointsClawedBack':
      return { type, data: pick(d, ['userId', 'points', 'orderId', 'cause', 'amount', 'expired', 'owed', 'shortfall', 'clawedBackAt']) };
    case 'TierChanged':
      return { type, data: pick(d, ['userId', 'from', 'to', 'reason', 'changedAt']) };
    case 'PointsTransferredOut':
      return { type, data: pick(d, ['userId', 'points', 'transferId', 'to', 'expiresAt', 'transferredAt']) };
    case 'ReferralRewarded':
      return { type, data: pick(d, ['userId', 'points', 'referralId', 'role', 'expiresAt', 'rewardedAt']) };
    case 'PointsTransferredIn':
      return { type, data: pick(d, ['userId', 'points', 'transferId', 'from', 'returned', 'expiresAt', 'receivedAt']) };
    default: {
      // A redemption's event: its facts come from its request (null if it could not be read).
      const at = d.confirmedAt ?? d.fulfilledAt ?? d.completedAt ?? null;
      return {
        type,
        data: {
          redemptionId: d.redemptionId ?? null,
          userId: redemption?.userId ?? null,
          rewardId: redemption?.rewardId ?? null,
          cost: redemption?.cost ?? null,
          at,
        },
      };
    }
  }
}

function pick(data: JsonObject, fields: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const field of fields) out[field] = data[field] ?? null;
  return out;
}
