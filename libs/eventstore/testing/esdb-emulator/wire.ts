/**
 * Translation between the emulator's stored events and the protocol's messages, using the message
 * classes the client itself ships so both ends agree on every field number.
 */
import { StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { ProposedEvent, StoredEvent } from './event-log';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class ProtocolViolation extends Error {}

/** A request the protocol allows but the emulator does not serve; answered UNIMPLEMENTED. */
export class NotEmulated extends Error {}

export function streamNameOf(identifier: StreamIdentifier | undefined): string {
  if (!identifier) throw new ProtocolViolation('stream identifier missing');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

export function streamIdentifier(streamName: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(streamName, 'utf8'));
}

/** Accepts both UUID forms the protocol allows and returns the canonical string. */
export function uuidToString(uuid: UUID | undefined): string {
  if (!uuid) throw new ProtocolViolation('event id missing');
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured()!;
    const bytes = Buffer.alloc(16);
    bytes.writeBigInt64BE(BigInt(structured.getMostSignificantBits()), 0);
    bytes.writeBigInt64BE(BigInt(structured.getLeastSignificantBits()), 8);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const text = uuid.getString().toLowerCase();
  if (!UUID_PATTERN.test(text)) throw new ProtocolViolation(`not a UUID: ${uuid.getString()}`);
  return text;
}

/**
 * The structured form carries the UUID's big-endian halves as signed 64-bit integers (the layout
 * EventStoreDB borrowed from Java's UUID); the client reinterprets them as unsigned.
 */
export function uuidMessage(id: string, structured: boolean): UUID {
  const uuid = new UUID();
  if (!structured) return uuid.setString(id);
  const bytes = Buffer.from(id.replaceAll('-', ''), 'hex');
  return uuid.setStructured(
    new UUID.Structured()
      .setMostSignificantBits(bytes.readBigInt64BE(0).toString())
      .setLeastSignificantBits(bytes.readBigInt64BE(8).toString()),
  );
}

interface ProposedMessage {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}

/** Append and BatchAppend both propose events with the same shape. */
export function proposedEvent(message: ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (!type) throw new ProtocolViolation('required metadata property missing: type');
  if (!contentType) throw new ProtocolViolation('required metadata property missing: content-type');
  return {
    id: uuidToString(message.getId()),
    type,
    contentType,
    data: message.getData_asU8(),
    customMetadata: message.getCustomMetadata_asU8(),
  };
}

export function eventResponse(event: StoredEvent, structuredIds: boolean): ReadResp {
  const position = event.position.toString();
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(uuidMessage(event.id, structuredIds))
    .setStreamIdentifier(streamIdentifier(event.streamName))
    .setStreamRevision(event.revision.toString())
    .setCommitPosition(position)
    .setPreparePosition(position)
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', event.createdTicks.toString());
  return new ReadResp().setEvent(new ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(position));
}

export function wantsStructuredIds(options: ReadReq.Options): boolean {
  return options.getUuidOption()?.hasStructured() ?? false;
}

/** Checks a filter expression the way the server does: any prefix, or an unanchored regex. */
export function expressionMatcher(expression: ReadReq.Options.FilterOptions.Expression): (value: string) => boolean {
  const prefixes = expression.getPrefixList();
  if (prefixes.length > 0) return (value) => prefixes.some((prefix) => value.startsWith(prefix));
  const regex = new RegExp(expression.getRegex());
  return (value) => regex.test(value);
}

export type EventPredicate = (event: StoredEvent) => boolean;

export function filterPredicate(options: ReadReq.Options): EventPredicate | undefined {
  if (!options.hasFilter()) return undefined;
  const filter = options.getFilter()!;
  if (filter.hasStreamIdentifier()) {
    const matches = expressionMatcher(filter.getStreamIdentifier()!);
    return (event) => matches(event.streamName);
  }
  if (filter.hasEventType()) {
    const matches = expressionMatcher(filter.getEventType()!);
    return (event) => matches(event.type);
  }
  throw new ProtocolViolation('filter without a stream identifier or event type expression');
}
