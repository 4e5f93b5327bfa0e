import type { JsonObject, RecordedEvent } from '../../../../libs/eventstore/src/event-store';
import { ACCOUNT_STREAM_PREFIX } from '../../../register/src/account/account.streams';

/**
 * What rewards consumes from other services, as it reads it off the store.
 *
 * pulse (until pulse publishes its own definitions): one event per accepted Segment `track` call,
 *   stream  `pulse.<anything>` (e.g. `pulse.events-<tenantId>.<userId or anonymousId>`)
 *   type    `TrackRecorded`
 *   data    { messageId: string, userId: string | null, anonymousId?: string | null,
 *             event: string, properties: object, timestamp: string (ISO-8601) }
 *   metadata.tenantId (as every Tessera event)
 * Earning rules match `event` and read `properties`, so these must not be sealed as personal
 * data (if they are, rewards opens them with the shared master key). Events without a userId
 * (anonymous visitors) earn nothing. `messageId` is the dedupe key: the same message earns once
 * even if pulse were to record it twice.
 *
 * register: `UserRegistered` in `register.account-<tenantId>.<userId>`; rules name it as the
 *   event `UserRegistered` with no properties. Only `userId` (never sealed) is read.
 */
export const PULSE_STREAM_PREFIX = 'pulse.';
export const TRACK_RECORDED = 'TrackRecorded';
export const USER_REGISTERED = 'UserRegistered';
export const SOURCE_STREAM_PREFIXES = [PULSE_STREAM_PREFIX, ACCOUNT_STREAM_PREFIX] as const;

export interface TrackRecordedData {
  messageId: string;
  userId: string | null;
  anonymousId?: string | null;
  event: string;
  properties: JsonObject;
  timestamp: string;
}

/** A source event as the earning rules see it; undefined for events that cannot earn. */
export interface EarningSource {
  readonly tenantId: string;
  readonly userId: string;
  readonly source: { id: string; name: string; properties: Readonly<Record<string, unknown>> };
}

export function earningSourceOf(recorded: RecordedEvent, data: JsonObject): EarningSource | undefined {
  const tenantId = recorded.metadata.tenantId;
  if (typeof tenantId !== 'string') return undefined;
  if (recorded.type === USER_REGISTERED && recorded.streamName.startsWith(ACCOUNT_STREAM_PREFIX)) {
    const userId = data.userId;
    return typeof userId === 'string' ? { tenantId, userId, source: { id: `registered:${userId}`, name: USER_REGISTERED, properties: {} } } : undefined;
  }
  if (recorded.type === TRACK_RECORDED && recorded.streamName.startsWith(PULSE_STREAM_PREFIX)) {
    const { userId, event, properties, messageId } = data as Partial<TrackRecordedData>;
    if (typeof userId !== 'string' || typeof event !== 'string') return undefined;
    const id = typeof messageId === 'string' && messageId !== '' ? `track:${messageId}` : `event:${recorded.id}`;
    const props = typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? properties : {};
    return { tenantId, userId, source: { id, name: event, properties: props } };
  }
  return undefined;
}
