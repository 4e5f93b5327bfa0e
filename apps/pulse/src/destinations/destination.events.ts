import { defineEvent, type EventOf } from '#cqrs';
import type { MessageKind } from '#contracts';

/** Renames a field of every message (`properties.total` → `properties.revenue`), or drops one. */
export type FieldMapping = { readonly rename: { readonly from: string; readonly to: string } } | { readonly drop: string };

/** What a tenant decides about one webhook destination (everything but its signing secret). */
export interface DestinationSettings {
  readonly name: string;
  readonly url: string;
  readonly enabled: boolean;
  /** Message types and event names (track's `event`) that go out; null lets every one through. */
  readonly filters: { readonly types: readonly MessageKind[] | null; readonly events: readonly string[] | null };
  readonly mappings: readonly FieldMapping[];
  /** 1: one message per request; more: `{"batch": [...]}` of up to that many. */
  readonly batching: { readonly maxMessages: number; readonly maxWaitMs: number };
  /** Deliver one at a time in log order (a failing message holds back the next), or in parallel. */
  readonly ordered: boolean;
  /** Deliver history moved in through /v1/import too (version 2; before, nothing was history). */
  readonly historical: boolean;
}

/** Settings written before version 2 delivered live messages only, which is what history-less meant. */
const settingsV2 = (data: Record<string, unknown>) => ({ ...data, settings: { ...(data.settings as object), historical: false } });

/** A signing secret sealed with the outbound SecretBox: events never hold a secret in the clear. */
export interface SealedSigningSecret {
  readonly sealed: string;
}

export const DestinationCreated = defineEvent<{
  destinationId: string;
  settings: DestinationSettings;
  secret: SealedSigningSecret;
  createdAt: string;
}>()('DestinationCreated', { version: 2, upcasters: { 1: settingsV2 } });

export const DestinationChanged = defineEvent<{ destinationId: string; settings: DestinationSettings; changedAt: string }>()(
  'DestinationChanged',
  { version: 2, upcasters: { 1: settingsV2 } },
);

/** The new secret signs from now on; the one it replaces keeps signing beside it until `previousValidUntil`. */
export const DestinationSecretRotated = defineEvent<{
  destinationId: string;
  secret: SealedSigningSecret;
  previousValidUntil: string;
  rotatedAt: string;
}>()('DestinationSecretRotated');

export const DestinationDeleted = defineEvent<{ destinationId: string; deletedAt: string }>()('DestinationDeleted');

export type DestinationEvent =
  | EventOf<typeof DestinationCreated>
  | EventOf<typeof DestinationChanged>
  | EventOf<typeof DestinationSecretRotated>
  | EventOf<typeof DestinationDeleted>;

export const destinationEvents = [DestinationCreated, DestinationChanged, DestinationSecretRotated, DestinationDeleted];

export const DESTINATION_STREAM_PREFIX = 'pulse.destination-';

export function destinationStreamFor(tenantId: string, destinationId: string): string {
  return `${DESTINATION_STREAM_PREFIX}${tenantId}.${destinationId}`;
}
