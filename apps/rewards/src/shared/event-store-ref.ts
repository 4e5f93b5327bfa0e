import type { EventStore } from '#eventstore';

/** The event store as an injectable class token (an interface cannot be one). */
export abstract class EventStoreRef {
  abstract readStream: EventStore['readStream'];
  abstract appendToStream: EventStore['appendToStream'];
}
