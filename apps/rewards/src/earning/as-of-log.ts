import { undecodableReason, type DomainEvent, type EventCodec, type EventEnvelope } from '#cqrs';
import { comparePositions, type EventStore, type Position } from '#eventstore';

/** How a tenant's stream folds: the program's versions, the campaigns' lifecycle. */
export interface Folding<Event extends DomainEvent, State> {
  initialState(): State;
  evolve(state: State, event: Event): State;
}

const BEFORE_EVERYTHING: Position = { commit: 0n, prepare: 0n };

/**
 * What one stream per tenant said as of a position in the log: events earn under the program
 * version and the campaigns recorded before them, also when a batch holds a change, and also when
 * a restarted runner replays events from before a change it has already seen.
 */
export class TenantStreamAsOf<Event extends DomainEvent, State> {
  private readonly byTenant = new Map<string, { state: State; since: Position }>();

  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    private readonly streamFor: (tenantId: string) => string,
    private readonly folding: Folding<Event, State>,
  ) {}

  /** What was learnt from the log can be stale once events were applied elsewhere; read again. */
  forget(): void {
    this.byTenant.clear();
  }

  /**
   * An event of the stream met in log order. What is known holds everything before the position
   * it was read at, and every later event of the stream comes here in order: fold it in. One at or
   * before what is known (a replay) is in it already; a tenant not known is read when asked.
   */
  published(envelope: EventEnvelope<Event>): void {
    const known = this.byTenant.get(envelope.metadata.tenantId);
    if (known && comparePositions(known.since, envelope.position) < 0)
      this.byTenant.set(envelope.metadata.tenantId, { state: this.folding.evolve(known.state, envelope.event), since: envelope.position });
  }

  async at(tenantId: string, position: Position): Promise<State> {
    const known = this.byTenant.get(tenantId);
    if (known && comparePositions(known.since, position) < 0) return known.state;
    let found = { state: this.folding.initialState(), since: BEFORE_EVERYTHING };
    for (const recorded of await this.store.readStream(this.streamFor(tenantId))) {
      if (comparePositions(recorded.position, position) >= 0) break;
      if (!this.codec.understands(recorded)) continue;
      const decoded = await this.codec.decode<Event>(recorded).catch((error: unknown) => {
        // Passed over as the runner passes over it in the log (and records it there), rather than
        // failing every batch that needs this tenant's stream.
        if (undecodableReason(error)) return undefined;
        throw error;
      });
      if (decoded) found = { state: this.folding.evolve(found.state, decoded.event), since: recorded.position };
    }
    // A replay asks about the past: remember the answer only if it is not older than what is known,
    // or later events would earn under what was already replaced.
    if (!known || comparePositions(found.since, known.since) >= 0) this.byTenant.set(tenantId, found);
    return found.state;
  }
}
