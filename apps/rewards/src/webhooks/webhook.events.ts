import { defineEvent, type EventOf } from '#cqrs';

/** What a rewards webhook announces: the `type` of each message (Standard Webhooks' event type). */
export const WEBHOOK_EVENT_TYPES = [
  'points.earned',
  'points.spent',
  'points.expired',
  'points.expiring_soon',
  'points.adjusted',
  'points.clawed_back',
  'points.transferred_out',
  'points.transferred_in',
  'points.referral',
  'tier.changed',
  'redemption.created',
  'redemption.fulfilled',
  'redemption.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** What a tenant decides about one webhook endpoint (everything but its signing secret). */
export interface WebhookSettings {
  readonly url: string;
  readonly description: string | null;
  readonly enabled: boolean;
  /** The message types it takes; null takes every one, including types added later. */
  readonly events: readonly WebhookEventType[] | null;
}

/** A signing secret sealed with the outbound SecretBox under the endpoint's id: events never hold one in the clear. */
export interface SealedSecret {
  readonly sealed: string;
}

export const WebhookEndpointCreated = defineEvent<{
  endpointId: string;
  settings: WebhookSettings;
  secret: SealedSecret;
  createdAt: string;
}>()('WebhookEndpointCreated');

export const WebhookEndpointChanged = defineEvent<{ endpointId: string; settings: WebhookSettings; changedAt: string }>()(
  'WebhookEndpointChanged',
);

/** The new secret signs from now on; the one it replaces keeps signing beside it until `previousValidUntil`. */
export const WebhookEndpointSecretRotated = defineEvent<{
  endpointId: string;
  secret: SealedSecret;
  previousValidUntil: string;
  rotatedAt: string;
}>()('WebhookEndpointSecretRotated');

export const WebhookEndpointDeleted = defineEvent<{ endpointId: string; deletedAt: string }>()('WebhookEndpointDeleted');

export type WebhookEndpointEvent =
  | EventOf<typeof WebhookEndpointCreated>
  | EventOf<typeof WebhookEndpointChanged>
  | EventOf<typeof WebhookEndpointSecretRotated>
  | EventOf<typeof WebhookEndpointDeleted>;

export const webhookEndpointEvents = [WebhookEndpointCreated, WebhookEndpointChanged, WebhookEndpointSecretRotated, WebhookEndpointDeleted];
