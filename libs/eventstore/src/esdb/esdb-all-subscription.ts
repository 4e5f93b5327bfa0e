/**
 * The port's `$all` subscription over the client's catch-up subscription.
 */
import {
  excludeSystemEvents,
  eventTypeFilter,
  START,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type EventStoreDBClient,
  type Filter,
} from '@eventstore/db-client';
import {
  comparePositions,
  matchesFilter,
  type AllSubscription,
  type EventFilter,
  type Position,
  type RecordedEvent,
  type SubscribeToAllOptions,
} from '../event-store';
import { toRecordedEvent } from './esdb-events';

const CLOSED = Symbol('closed');

/**
 * EventStoreDB filters server-side on stream names or on event types, never both at once. The
 * stream-name prefixes go to the server when given, the event-type prefixes otherwise; whatever
 * the server cannot check (the other list, and `$` stream names) is checked here on arrival.
 * With no user filter the server still drops system events by type, which is most of them.
 */
export function serverSideFilter(filter: EventFilter | undefined): Filter {
  if (filter?.streamNamePrefixes?.length) return streamNameFilter({ prefixes: [...filter.streamNamePrefixes] });
  if (filter?.eventTypePrefixes?.length) return eventTypeFilter({ prefixes: [...filter.eventTypePrefixes] });
  return excludeSystemEvents();
}

export class EsdbAllSubscription implements AllSubscription {
  private readonly source: AllStreamSubscription;
  private readonly after: Position | undefined;
  private readonly filter: EventFilter | undefined;
  private closed = false;
  private events: AsyncIterator<AllStreamResolvedEvent> | undefined;
  private reads: Promise<unknown> = Promise.resolve();
  private signalClosed!: () => void;
  private readonly closedSignal = new Promise<typeof CLOSED>((resolve) => (this.signalClosed = () => resolve(CLOSED)));
  private readonly failedSignal: Promise<never>;

  constructor(
    client: EventStoreDBClient,
    options: SubscribeToAllOptions,
    private readonly onClosed: (subscription: EsdbAllSubscription) => void,
  ) {
    this.after = options.from === undefined || options.from === 'start' ? undefined : options.from;
    this.filter = options.filter;
    this.source = client.subscribeToAll({
      fromPosition: this.after ?? START,
      filter: serverSideFilter(options.filter),
    });
    // The client reports a failed subscription by emitting 'error' without destroying the stream,
    // so a failure that happens before iteration starts would otherwise leave the iterator hanging.
    this.failedSignal = new Promise<never>((_, reject) => this.source.once('error', reject));
    this.failedSignal.catch(() => undefined);
    this.source.on('error', () => undefined);
  }

  /**
   * A hand-written iterator rather than an async generator: a generator queues `return()` behind a
   * pending `next()`, so a consumer abandoning a quiet subscription would wait for the next event.
   * Here `return()` closes at once and the pending `next()` settles as done.
   */
  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    return {
      next: () => {
        // Reads are serialised, even across iterators, so overlapping calls still see events in order.
        const result = this.reads.then(() => this.nextEvent());
        this.reads = result.catch(() => undefined);
        return result;
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  private async nextEvent(): Promise<IteratorResult<RecordedEvent>> {
    this.events ??= this.source[Symbol.asyncIterator]() as AsyncIterator<AllStreamResolvedEvent>;
    const events = this.events;
    try {
      while (!this.closed) {
        const next = events.next();
        // After close() the pending read settles however the torn-down stream decides; nobody waits for it.
        next.catch(() => undefined);
        const result = await Promise.race([next, this.closedSignal, this.failedSignal]);
        if (result === CLOSED || result.done) break;
        const event = result.value.event;
        if (!event || !matchesFilter(this.filter, event.streamId, event.type)) continue;
        // The server already starts strictly after `from`; this guards against a server that
        // counts the boundary event in, which would be delivered twice across a resume.
        if (this.after && comparePositions(event.position, this.after) <= 0) continue;
        return { done: false, value: toRecordedEvent(event) };
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    await this.close();
    return { done: true, value: undefined };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosed();
    try {
      await this.source.unsubscribe();
    } finally {
      this.source.destroy();
      this.onClosed(this);
    }
  }
}
