import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

export const MESSAGE_KINDS = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** One tracking call as pulse stores it: validated, timestamps corrected, ids as strings. */
export interface TrackingMessage {
  kind: MessageKind;
  messageId: string;
  userId: string | null;
  anonymousId: string | null;
  previousId?: string;
  groupId?: string;
  event?: string;
  name?: string;
  category?: string;
  /** When it happened, corrected for the sender's clock skew. */
  timestamp: string;
  /** The sender's own `timestamp`, as sent. */
  originalTimestamp?: string;
  sentAt?: string;
  receivedAt: string;
  properties?: JsonObject;
  traits?: JsonObject;
  context?: JsonObject;
  integrations?: JsonObject;
  /**
   * Whether the message carries traits (an identify's own, or any call's `context.traits`): not
   * personal itself, it tells the profile whether the sealed fields hold anything it must read.
   */
  carriesTraits: boolean;
  /** Which of the tenant's sources sent it (version 3; older messages all came from client sources). */
  source: TrackingSource;
  /**
   * Sent through `/v1/import` (version 4): history being moved in. It builds profiles like any
   * message but starts nothing live (no webhook unless the destination asks for history, no
   * loyalty points). Older messages were all live.
   */
  historical: boolean;
}

/**
 * A client source's write key ships in web pages and apps, so anyone can send what it sends; a
 * server source's key is a secret kept on the tenant's servers (Segment's distinction). Only what
 * a server source sends may move money-like state such as loyalty points, unless the tenant says
 * otherwise for named events.
 */
export type TrackingSourceKind = 'client' | 'server';

export interface TrackingSource {
  kind: TrackingSourceKind;
  /** The key the call was authenticated with (register's key id), for the audit trail. */
  keyId: string;
}

/** What messages written before sources were recorded came from: the tenant's first write key. */
export const LEGACY_CLIENT_SOURCE: TrackingSource = { kind: 'client', keyId: 'initial-write' };

/** The traits profiles take from a call: an identify's own and `context.traits` of any call. */
export function carriesTraits(kind: string, traits: unknown, context: unknown): boolean {
  return (kind === 'identify' && isPlainObject(traits)) || (isPlainObject(context) && isPlainObject(context.traits));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const TRACKING_STREAM_PREFIX = 'pulse.tracking-';

/**
 * Tracking streams are partitions of a tenant's log, one per concurrent group commit, so that two
 * commits never queue on the same stream row.
 */
export function trackingStreamFor(tenantId: string, partition: number): string {
  return `${TRACKING_STREAM_PREFIX}${tenantId}.${partition}`;
}

/**
 * Whose key seals a message: the userId when there is one (the same subject register uses, so
 * erasing the person through register also makes their tracked history unreadable), otherwise the
 * anonymous id.
 */
export function trackingSubject(data: JsonObject): string {
  if (typeof data.userId === 'string' && data.userId !== '') return data.userId;
  return `anonymous:${String(data.anonymousId ?? data.previousId ?? '')}`;
}

/**
 * One Segment call (track, identify, page, screen, group or alias), durably received. Traits,
 * properties and context (IP, user agent, page URL) may all hold personal data, so they are sealed.
 * Version 2 says in clear whether the call carries traits, so that readers which only need traits
 * open the sealed fields of those calls alone; version 3 names the source that sent it; version 4
 * says whether it is history moved in through /v1/import.
 */
export const MessageReceived = defineEvent<TrackingMessage>()('MessageReceived', {
  version: 4,
  personalData: { subject: trackingSubject, fields: ['properties', 'traits', 'context'] },
  upcasters: {
    1: (data) => ({ ...data, carriesTraits: carriesTraits(String(data.kind), data.traits, data.context) }),
    2: (data) => ({ ...data, source: { ...LEGACY_CLIENT_SOURCE } }),
    3: (data) => ({ ...data, historical: false }),
  },
});

export type TrackingEvent = EventOf<typeof MessageReceived>;
export const trackingEvents = [MessageReceived];

/**
 * A `track` call as pulse records it once accepted, for services that build on pulse's log
 * (their tests and benches append it through their codec, which seals it as pulse does).
 */
export function trackReceived(call: {
  userId: string;
  event: string;
  properties?: JsonObject;
  messageId: string;
  at: Date;
  /** A server source unless said otherwise: what earns points without the tenant's say-so. */
  source?: TrackingSource;
}): TrackingEvent {
  const at = call.at.toISOString();
  return MessageReceived({
    kind: 'track',
    messageId: call.messageId,
    userId: call.userId,
    anonymousId: null,
    event: call.event,
    timestamp: at,
    receivedAt: at,
    properties: call.properties ?? {},
    carriesTraits: false,
    source: call.source ?? { kind: 'server', keyId: 'server' },
    historical: false,
  });
}
