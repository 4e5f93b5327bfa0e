import { newEventId, type EventToAppend, type JsonObject, type RecordedEvent } from '#eventstore';
import { metadataOf, UndecodableEventError, type CommandContext, type EventEnvelope } from './event-envelope';
import type { DomainEvent, EventRegistry, PersonalDataSpec } from './event-types';

/**
 * The part of the personal-data layer the codec needs: seal personal fields under the subject's key
 * on the way in, open them on the way out (null fields and `erased` once the key is destroyed).
 */
export interface PersonalDataSealer {
  seal(tenantId: string, spec: PersonalDataSpec, data: JsonObject): Promise<JsonObject>;
  open(tenantId: string, data: JsonObject): Promise<{ data: JsonObject; erased: boolean }>;
}

/** Translates between domain events and stored events: metadata, versions, personal data. */
export class EventCodec {
  constructor(
    private readonly registry: EventRegistry,
    private readonly personalData: PersonalDataSealer,
  ) {}

  async encode(event: DomainEvent, context: CommandContext): Promise<EventToAppend> {
    const definition = this.registry.get(event.type);
    if (!definition) throw new Error(`event type ${event.type} is not registered`);
    const plain = event.data as JsonObject;
    const data = definition.personalData ? await this.personalData.seal(context.tenantId, definition.personalData, plain) : plain;
    const id = newEventId();
    return {
      id,
      type: event.type,
      data,
      metadata: {
        tenantId: context.tenantId,
        schemaVersion: definition.version,
        correlationId: context.correlationId,
        causationId: context.causationId ?? context.correlationId,
        occurredAt: context.now.toISOString(),
      },
    };
  }

  encodeAll(events: readonly DomainEvent[], context: CommandContext): Promise<EventToAppend[]> {
    return Promise.all(events.map((event) => this.encode(event, context)));
  }

  /** Whether this reader knows the event type (readers skip types of other services). */
  understands(recorded: RecordedEvent): boolean {
    return this.registry.has(recorded.type);
  }

  /**
   * `open: false` leaves the personal fields sealed when the event is at its current version (an
   * older one is opened anyway: upcasting needs its whole data); the envelope then says `sealed`.
   */
  async decode<E extends DomainEvent = DomainEvent>(recorded: RecordedEvent, options: { open?: boolean } = {}): Promise<EventEnvelope<E>> {
    const metadata = metadataOf(recorded.metadata);
    if (typeof recorded.data !== 'object' || recorded.data === null || Array.isArray(recorded.data))
      throw new UndecodableEventError('event data is not a JSON object');
    const hasSealed = '$personal' in recorded.data;
    if (hasSealed && options.open === false && this.registry.get(recorded.type)?.version === metadata.schemaVersion) {
      return { ...this.envelopeOf<E>(recorded, metadata, recorded.data), erased: false, sealed: true };
    }
    const opened = hasSealed ? await this.personalData.open(metadata.tenantId, recorded.data) : { data: recorded.data, erased: false };
    const data = this.registry.upcast(recorded.type, metadata.schemaVersion, opened.data);
    return { ...this.envelopeOf<E>(recorded, metadata, data), erased: opened.erased };
  }

  private envelopeOf<E extends DomainEvent>(
    recorded: RecordedEvent,
    metadata: EventEnvelope['metadata'],
    data: JsonObject,
  ): Omit<EventEnvelope<E>, 'erased'> {
    return {
      id: recorded.id,
      streamName: recorded.streamName,
      revision: recorded.revision,
      position: recorded.position,
      createdAt: recorded.createdAt,
      event: { type: recorded.type, data } as E,
      metadata,
    };
  }
}
