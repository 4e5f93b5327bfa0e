import type { EventEnvelope } from '#cqrs';
import type { JsonObject } from '#eventstore';
import {
  ACCOUNT_STREAM_PREFIX,
  ERASURE_STREAM_PREFIX,
  erasureEvents,
  erasureIdentitiesOf,
  MessageReceived,
  TRACKING_STREAM_PREFIX,
  UserErased,
  UserRegistered,
  type TrackingMessage,
  type TrackingSourceKind,
} from '#contracts';

/**
 * What rewards consumes from other services, as it reads it off the store.
 *
 * pulse: `MessageReceived` (pulse's tracking.events.ts) in `pulse.tracking-<tenantId>.<partition>`,
 *   one per accepted Segment call; those of `kind: 'track'` earn. `source.kind` says whether a
 *   server source (secret key) or a client source (public write key) sent it; messages recorded
 *   before version 3 read as client (pulse's upcaster), and so does anything else but `server`.
 *   A rule earns only from the source kinds it lists (server alone by default). `properties` is sealed under
 *   the person's key and opened by the codec with the shared master key (the key store must be
 *   the one pulse writes to). Earning rules match `event` and read `properties`. Calls without a
 *   userId (anonymous visitors) earn nothing. `messageId` is the dedupe key: the same message
 *   earns once even if pulse were to record it twice. `Order Refunded` / `Order Returned` from a
 *   server source take back what the order in `properties.order_id` earned (`properties.total`: how
 *   much of it; none, all of it) instead of earning: see wallet/refund.ts. Messages marked
 *   `historical` (version 4: sent to /v1/import) neither earn nor take back.
 *
 * register: `UserRegistered` in `register.account-<tenantId>.<userId>`; rules name it as the
 *   event `UserRegistered` with no properties. Only `userId` (never sealed) is read. Register is
 *   our own service: its sign-ups count as a server source.
 *   `UserErased` in the same stream closes the member's wallet.
 *
 * privacy: `ErasureRequested` in `privacy.erasure-<tenantId>.<erasureId>` closes the wallet of
 *   every userId it names (its identities are sealed under the request's key, opened by the codec);
 *   rewards then appends `ErasureCompleted { service: 'rewards' }` there.
 */
export const MESSAGE_RECEIVED = MessageReceived.type;
export const USER_REGISTERED = 'UserRegistered';
export const USER_ERASED = 'UserErased';
export const SOURCE_STREAM_PREFIXES = [TRACKING_STREAM_PREFIX, ACCOUNT_STREAM_PREFIX, ERASURE_STREAM_PREFIX] as const;
export const ERASURE_REQUESTED = 'ErasureRequested';

/** The other services' event types the earning subscription decodes. */
export const consumedEvents = [MessageReceived, UserRegistered, UserErased, ...erasureEvents];

/** A source event as the earning rules see it; undefined for events that cannot earn. */
export interface EarningSource {
  readonly tenantId: string;
  readonly userId: string;
  readonly source: { id: string; name: string; properties: Readonly<Record<string, unknown>>; kind: TrackingSourceKind };
}

export function earningSourceOf(envelope: EventEnvelope): EarningSource | undefined {
  const { tenantId } = envelope.metadata;
  const { type } = envelope.event;
  const data = envelope.event.data as JsonObject;
  if (type === USER_REGISTERED && envelope.streamName.startsWith(ACCOUNT_STREAM_PREFIX)) {
    const userId = data.userId;
    return typeof userId === 'string'
      ? { tenantId, userId, source: { id: `registered:${userId}`, name: USER_REGISTERED, properties: {}, kind: 'server' } }
      : undefined;
  }
  if (type === MESSAGE_RECEIVED && data.kind === 'track' && envelope.streamName.startsWith(TRACKING_STREAM_PREFIX)) {
    // Properties sealed by pulse are opened by the codec; once the person is erased they read as null.
    const { userId, event, properties, messageId, source, historical } = data as Partial<TrackingMessage>;
    if (typeof userId !== 'string' || typeof event !== 'string') return undefined;
    // History moved in through /v1/import is not something members did now: it earns and claws back nothing.
    if (historical === true) return undefined;
    const id = typeof messageId === 'string' && messageId !== '' ? `track:${messageId}` : `event:${envelope.id}`;
    const props = typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? properties : {};
    // Trust is never assumed: only a message that says in so many words it came from a server source is one.
    const kind: TrackingSourceKind = source?.kind === 'server' ? 'server' : 'client';
    return { tenantId, userId, source: { id, name: event, properties: props, kind } };
  }
  return undefined;
}

/**
 * The members an erasure names (register's UserErased, or a request's userIds), with the request
 * to report done; undefined when the event is no erasure, or a request whose key is already gone
 * (every service completed it: a replay).
 */
export function erasureOf(envelope: EventEnvelope): { tenantId: string; userIds: string[]; erasureId?: string } | undefined {
  const data = envelope.event.data as JsonObject;
  const { tenantId } = envelope.metadata;
  if (envelope.event.type === USER_ERASED && envelope.streamName.startsWith(ACCOUNT_STREAM_PREFIX))
    return typeof data.userId === 'string' ? { tenantId, userIds: [data.userId] } : undefined;
  if (envelope.event.type !== ERASURE_REQUESTED || !envelope.streamName.startsWith(ERASURE_STREAM_PREFIX) || envelope.erased)
    return undefined;
  const identities = erasureIdentitiesOf(data);
  return identities && typeof data.erasureId === 'string'
    ? { tenantId, userIds: identities.userIds, erasureId: data.erasureId }
    : undefined;
}
