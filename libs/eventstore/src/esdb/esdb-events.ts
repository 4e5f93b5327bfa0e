/**
 * Translation between the port's events and the EventStoreDB client's.
 */
import {
  ANY,
  jsonEvent,
  NO_STREAM,
  STREAM_EXISTS,
  type AppendExpectedRevision,
  type CurrentRevision,
  type EventData,
  type RecordedEvent as ClientRecordedEvent,
} from '@eventstore/db-client';
import type { EventToAppend, ExpectedRevision, JsonObject, RecordedEvent } from '../event-store';

export function toEventData(event: EventToAppend): EventData {
  return jsonEvent({
    ...(event.id === undefined ? {} : { id: event.id }),
    type: event.type,
    data: event.data,
    // Left out when absent: EventStoreDB stores no custom metadata and reads it back as undefined.
    ...(event.metadata === undefined ? {} : { metadata: event.metadata }),
  });
}

export function toClientRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      // The port, like EventStoreDB's own protocol before gRPC, lets -1 stand for "no stream".
      if (expected === -1n) return NO_STREAM;
      if (expected < -1n) throw new RangeError(`not an expected revision: ${expected}`);
      return expected;
  }
}

export function expectationHolds(expected: ExpectedRevision, actual: bigint): boolean {
  switch (toClientRevision(expected)) {
    case ANY:
      return true;
    case NO_STREAM:
      return actual === -1n;
    case STREAM_EXISTS:
      return actual !== -1n;
    default:
      return actual === expected;
  }
}

/** The port says -1n for "the stream does not exist"; the client says 'no_stream'. */
export function fromCurrentRevision(current: CurrentRevision | undefined): bigint | undefined {
  if (current === NO_STREAM) return -1n;
  return typeof current === 'bigint' ? current : undefined;
}

export function toRecordedEvent(event: ClientRecordedEvent): RecordedEvent {
  if (!event.position) throw new Error(`event ${event.id} in ${event.streamId} arrived without its $all position`);
  return {
    id: event.id,
    streamName: event.streamId,
    revision: event.revision,
    position: { commit: event.position.commit, prepare: event.position.prepare },
    type: event.type,
    data: jsonObject(event.data, () => {
      throw new Error(`event ${event.id} in ${event.streamId} does not hold a JSON object`);
    }),
    metadata: jsonObject(event.metadata, () => ({})),
    createdAt: event.created,
  };
}

/**
 * The client hands back parsed JSON for `application/json` events and raw bytes otherwise (and
 * always raw bytes for metadata it cannot parse), so both shapes are accepted here.
 */
function jsonObject(value: unknown, otherwise: () => JsonObject): JsonObject {
  let parsed = value;
  if (value instanceof Uint8Array) {
    try {
      parsed = JSON.parse(Buffer.from(value).toString('utf8'));
    } catch {
      return otherwise();
    }
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as JsonObject;
  return otherwise();
}
