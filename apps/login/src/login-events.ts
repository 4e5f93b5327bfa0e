import { randomUUID } from 'node:crypto';
import type { EventCodec } from '../../../libs/cqrs/src/event-codec';
import type { DomainEvent } from '../../../libs/cqrs/src/event-types';
import type { EventStore } from '../../../libs/eventstore/src/event-store';

/**
 * Appends facts that no decision depends on (a login happened, a session ended): they are
 * records for other services, so they go in with `any` revision rather than through a decider.
 */
export class LoginEventLog {
  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
  ) {}

  async record(streamName: string, tenantId: string, events: DomainEvent[], correlationId: string = randomUUID()): Promise<void> {
    const encoded = await this.codec.encodeAll(events, { tenantId, correlationId, now: new Date() });
    await this.store.appendToStream(streamName, encoded, { expectedRevision: 'any' });
  }
}
