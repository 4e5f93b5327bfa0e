import { randomUUID } from 'node:crypto';
import type { EventCodec } from '../../../libs/cqrs/src/event-codec';
import type { DomainEvent } from '../../../libs/cqrs/src/event-types';
import type { EventStore } from '../../../libs/eventstore/src/event-store';

export interface StreamRecord {
  readonly streamName: string;
  readonly events: readonly DomainEvent[];
}

/**
 * Appends facts that no decision depends on (a login happened, a session ended): they are
 * records for other services, so they go in with `any` revision rather than through a decider.
 */
export class LoginEventLog {
  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
  ) {}

  record(streamName: string, tenantId: string, events: DomainEvent[], correlationId?: string): Promise<void> {
    return this.recordAll(tenantId, [{ streamName, events }], correlationId);
  }

  /** Facts for several streams, as one write where the store can (a sign-in and the session it starts). */
  async recordAll(tenantId: string, records: readonly StreamRecord[], correlationId: string = randomUUID()): Promise<void> {
    const context = { tenantId, correlationId, now: new Date() };
    const streams = await Promise.all(
      records.filter((record) => record.events.length > 0).map(async (record) => ({ streamName: record.streamName, events: await this.codec.encodeAll(record.events, context) })),
    );
    if (streams.length > 1 && this.store.appendToStreams) await this.store.appendToStreams(streams);
    else for (const stream of streams) await this.store.appendToStream(stream.streamName, stream.events, { expectedRevision: 'any' });
  }
}
