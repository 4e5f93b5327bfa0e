/**
 * The event-store port on EventStoreDB, through its official gRPC client.
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type ReadPosition,
} from '@eventstore/db-client';
import {
  matchesFilter,
  WrongExpectedRevisionError,
  type AllSubscription,
  type AppendResult,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type Position,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeToAllOptions,
} from '../event-store';
import { EsdbAllSubscription } from './esdb-all-subscription';
import { expectationHolds, fromCurrentRevision, toClientRevision, toEventData, toRecordedEvent } from './esdb-events';

export interface EsdbEventStoreOptions {
  /** How long ping() waits for an answer before declaring the server unreachable. Defaults to 5 s. */
  readonly pingTimeoutMs?: number;
}

/** $all pages read backwards while looking for the newest non-system event. */
const HEAD_SEARCH_PAGE = 100;

export class EsdbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  private readonly pingTimeoutMs: number;
  private readonly subscriptions = new Set<EsdbAllSubscription>();

  /** `connectionString` is an `esdb://` or `esdb+discover://` URL; nothing connects until first use. */
  constructor(connectionString: string, options: EsdbEventStoreOptions = {}) {
    this.client = EventStoreDBClient.connectionString(connectionString);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 5_000;
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    if (events.length === 0) return this.currentState(streamName, expected);
    let result;
    try {
      result = await this.client.appendToStream(streamName, events.map(toEventData), {
        expectedRevision: toClientRevision(expected),
      });
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        throw new WrongExpectedRevisionError(streamName, expected, fromCurrentRevision(error.actualVersion));
      }
      throw error;
    }
    if (!result.position) throw new Error(`EventStoreDB reported no position for an append to ${streamName}`);
    return { nextExpectedRevision: result.nextExpectedRevision, position: result.position };
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (options.maxCount !== undefined && options.maxCount <= 0) return [];
    const events: RecordedEvent[] = [];
    try {
      const reading = this.client.readStream(streamName, {
        fromRevision: options.fromRevision ?? START,
        ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
      });
      for await (const resolved of reading) {
        if (resolved.event) events.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  /** Truncates the stream before its first event committed at or after `before` (stream metadata `$tb`). */
  async removeEventsBefore(streamName: string, before: Date, maxCount: number): Promise<number> {
    const oldest = await this.readStream(streamName, { maxCount });
    const firstKept = oldest.findIndex((event) => event.createdAt.getTime() >= before.getTime());
    const removed = firstKept === -1 ? oldest.length : firstKept;
    if (removed === 0) return 0;
    const truncateBefore = firstKept === -1 ? oldest[removed - 1]!.revision + 1n : oldest[firstKept]!.revision;
    await this.client.setStreamMetadata(streamName, { truncateBefore: Number(truncateBefore) });
    return removed;
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const subscription = new EsdbAllSubscription(this.client, options, (closed) => this.subscriptions.delete(closed));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * A real `$all` ends with system events as often as not (stats, scavenges, projection state), so
   * the search pages backwards until it meets an event of ours.
   */
  async headPosition(): Promise<Position | undefined> {
    let from: ReadPosition = END;
    for (;;) {
      const page = await this.readAllBackwards(from, HEAD_SEARCH_PAGE);
      for (const event of page) {
        if (matchesFilter(undefined, event.streamId, event.type)) return event.position;
      }
      const oldest = page.at(-1);
      if (page.length < HEAD_SEARCH_PAGE || !oldest) return undefined;
      // Reading backwards from a position starts just before it, so the next page does not repeat it.
      from = oldest.position;
    }
  }

  /** One event read from `$all`: the cheapest call that needs a live, answering server. */
  async ping(): Promise<void> {
    const reading = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`EventStoreDB did not answer within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    try {
      await Promise.race([drain(reading), timeout]);
    } finally {
      clearTimeout(timer);
      await reading.cancel();
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.close()));
    await this.client.dispose();
  }

  /**
   * An empty append is answered here rather than sent: for a missing stream the server reports no
   * revision, which the client misreads as revision 0, and there is no position to report either.
   */
  private async currentState(streamName: string, expected: ExpectedRevision): Promise<AppendResult> {
    let last: { revision: bigint; position?: Position } | undefined;
    try {
      for await (const resolved of this.client.readStream(streamName, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        last = resolved.event ?? last;
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    const actual = last?.revision ?? -1n;
    if (!expectationHolds(expected, actual)) throw new WrongExpectedRevisionError(streamName, expected, actual);
    // A stream that does not exist has no event to point at: its position is the start of the log.
    return { nextExpectedRevision: actual, position: last?.position ?? { commit: 0n, prepare: 0n } };
  }

  private async readAllBackwards(from: ReadPosition, maxCount: number): Promise<{ streamId: string; type: string; position: Position }[]> {
    const events: { streamId: string; type: string; position: Position }[] = [];
    const reading = this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount });
    try {
      for await (const resolved of reading) {
        if (resolved.event) events.push(resolved.event);
      }
    } finally {
      await reading.cancel();
    }
    return events;
  }
}

async function drain(source: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of source);
}
