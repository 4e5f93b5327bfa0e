import type { JsonObject } from '../../../../libs/eventstore/src/event-store';
import { defineEvent, type EventOf } from '../../../../libs/cqrs/src/event-types';
import { carriesTraits, type TrackingMessage } from './segment-message';

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
 * open the sealed fields of those calls alone.
 */
export const MessageReceived = defineEvent<TrackingMessage>()('MessageReceived', {
  version: 2,
  personalData: { subject: trackingSubject, fields: ['properties', 'traits', 'context'] },
  upcasters: { 1: (data) => ({ ...data, carriesTraits: carriesTraits(String(data.kind), data.traits, data.context) }) },
});

export type TrackingEvent = EventOf<typeof MessageReceived>;
export const trackingEvents = [MessageReceived];

/**
 * A `track` call as pulse records it once accepted, for services that build on pulse's log
 * (their tests and benches append it through their codec, which seals it as pulse does).
 */
export function trackReceived(call: { userId: string; event: string; properties?: JsonObject; messageId: string; at: Date }): TrackingEvent {
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
  });
}
