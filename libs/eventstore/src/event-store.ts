import type { ClientBase, Pool } from 'pg';

/**
 * The event-store port every Tessera service writes and reads through.
 *
 * Two adapters implement it: PostgreSQL (embedded by default, `DATABASE_URL` otherwise) and
 * EventStoreDB (`EVENTSTORE_URL=esdb://...`). The contract suite in `testing/` runs against both
 * and pins down the behaviour described here.
 *
 * What only some stores can do is declared here as optional members (capabilities): code asks
 * the store whether it has one (`store.readStreams`, `store.transactional`) and takes its other
 * path when it does not, never by asking which adapter it holds.
 */

/** What the writer believes about the stream before appending (EventStoreDB's expected-revision rules). */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/**
 * A position in the global order of all events. It maps onto EventStoreDB's commit/prepare pair;
 * the PostgreSQL adapter uses (transaction id, sequence), which orders events the way a reader
 * can see them without ever passing one that a slower concurrent transaction has yet to commit.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** What an append wrote to one stream: enough to tell which subscriptions it concerns. */
export interface AppendedEvents {
  readonly streamName: string;
  readonly types: readonly string[];
}

export interface EventToAppend {
  /** UUID; makes a retried append recognisable. Generated when omitted. */
  readonly id?: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata?: JsonObject;
}

export interface RecordedEvent {
  readonly id: string;
  readonly streamName: string;
  /** 0-based position of the event in its stream. */
  readonly revision: bigint;
  readonly position: Position;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly createdAt: Date;
}

export interface AppendResult {
  /** Revision of the last event appended: the expected revision for the next append. */
  readonly nextExpectedRevision: bigint;
  readonly position: Position;
}

export interface ReadStreamOptions {
  /** First revision to read (inclusive). Defaults to 0. */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
}

/**
 * Server-side filter for `$all` subscriptions. An event passes when it matches every list that is
 * given (a list matches when any of its prefixes does). Events whose stream or type begins with `$`
 * (EventStoreDB system events) never pass.
 */
export interface EventFilter {
  readonly streamNamePrefixes?: readonly string[];
  readonly eventTypePrefixes?: readonly string[];
}

export interface SubscribeToAllOptions {
  /** Deliver events strictly after this position; 'start' delivers everything. Defaults to 'start'. */
  readonly from?: Position | 'start';
  readonly filter?: EventFilter;
  /**
   * Called when every event the filter takes up to `position` has been delivered (the subscription
   * read past events the filter rejects, or reached the head): a reader that has handled all it
   * was given has seen the log up to there. Stores that cannot tell never call it.
   */
  readonly onScannedTo?: (position: Position) => void;
  /**
   * For stores that poll: the longest pause between reads while the log stays quiet, i.e. how late
   * another process's append may be seen (this process's own appends wake the subscription at
   * once). Defaults to the store's setting; a reader of rare requests that may wait a second sets it
   * longer, and stops costing the database twenty reads a second when nothing happens.
   */
  readonly idlePollMs?: number;
}

/**
 * Catch-up then live: first every stored event after `from`, then new ones as they are committed,
 * each exactly once and in global order, until `close()`.
 */
export interface AllSubscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export interface EventStore {
  appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /** Events of one stream in revision order; an empty list when the stream does not exist. */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeToAllOptions): AllSubscription;
  /** The position of the last committed event visible to readers, or undefined when the store is empty. */
  headPosition(): Promise<Position | undefined>;
  /**
   * Retention: removes a stream's oldest events committed before `before`, at most `maxCount` per
   * call, and answers how many went (call again until it answers 0). The stream keeps its
   * revisions: reads start at the oldest event left and the next append goes on from the last.
   * On EventStoreDB this truncates the stream (`$tb`); `$all` readers see the events until the
   * server's scavenge removes them.
   */
  removeEventsBefore(streamName: string, before: Date, maxCount: number): Promise<number>;
  /**
   * Seconds since the oldest stored event that subscriptions cannot read yet was appended; 0 when
   * they can read everything stored. Only stores whose log can be held back offer it: on PostgreSQL
   * subscriptions read below the oldest transaction still open, so one open transaction holding a
   * transaction id stalls every projection while their own lag shows 0 (nothing reaches them).
   */
  headAgeSeconds?(): Promise<number>;
  /** Answers when the store is reachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Tells this process's subscriptions that events were committed by a path they are not told
   * about (an append inside a caller's transaction, once that committed). Stores whose
   * subscriptions learn of every commit anyway leave it undefined.
   */
  notifyCommitted?(appended?: readonly AppendedEvents[]): void;
  /**
   * Creates several streams that must not exist yet, with their first events, atomically: all or
   * none, one round trip. Only stores that can do that offer it (not EventStoreDB, whose appends
   * are per stream); callers fall back to one append per stream. Throws a
   * WrongExpectedRevisionError when any of the streams exists.
   */
  startStreams?(streams: readonly StreamEvents[]): Promise<AppendResult[]>;
  /**
   * Appends to several streams at any revision, atomically and in one round trip. Only stores
   * that can (not EventStoreDB); callers fall back to one append per stream.
   */
  appendToStreams?(streams: readonly StreamEvents[]): Promise<AppendResult[]>;
  /**
   * Appends to several streams atomically, each at the revision its writer decided on (`-1n`: the
   * stream must not exist yet): all or nothing. When any stream is not at its expected revision
   * nothing is appended and a StreamsRefusedError (a WrongExpectedRevisionError) names every such
   * stream. Results come in the order given. Only stores with transactions across streams offer
   * it (PostgreSQL, not EventStoreDB, whose appends are per stream); callers take their
   * one-append-per-stream path when it is absent.
   */
  appendToStreamsExpecting?(appends: readonly StreamAppend[]): Promise<AppendResult[]>;
  /**
   * Several whole streams in one round trip, each in revision order (empty for a stream that does
   * not exist). Only stores that can (not EventStoreDB); callers read stream by stream otherwise.
   */
  readStreams?(streamNames: readonly string[]): Promise<Map<string, RecordedEvent[]>>;
  /**
   * Present when the events live in a PostgreSQL database that callers can also write to, so
   * appends can commit together with a caller's own writes (see TransactionalEventStore).
   */
  readonly transactional?: TransactionalEventStore;
}

/** A stream and the events to add to it. */
export interface StreamEvents {
  readonly streamName: string;
  readonly events: readonly EventToAppend[];
}

/** One stream's share of a multi-stream append: `-1n` expects the stream not to exist yet. */
export interface StreamAppend extends StreamEvents {
  readonly expectedRevision: bigint;
}

/**
 * Writes of the caller's own tables in the event store's database, made in the statement that
 * appends, so that both commit or neither does.
 */
export interface WritesBeside {
  /** Data-modifying WITH queries, `name AS (...)` separated by commas, over parameters $1..$n. */
  readonly withQueries: string;
  /** $1..$n. */
  readonly values: readonly unknown[];
  /** Names the statement's shape, so each connection plans it once. */
  readonly shape: string;
}

/**
 * The capability of a store whose events live in a PostgreSQL database: appends that join a
 * transaction or a statement of the caller's, in that same database, so that events and the
 * caller's writes (a read model, its checkpoint, claims) commit together or not at all.
 *
 * Keep such transactions short: until one ends, `$all` subscriptions everywhere hold back every
 * event committed after it began writing (that is what keeps them from skipping it). The
 * subscriptions of this process find events appended within a caller's transaction at their next
 * poll, or at once when told with `notifyCommitted` after the commit.
 */
export interface TransactionalEventStore {
  /** Whether `pool` reaches the store's own database (by the same connection string). */
  sharesDatabaseWith(pool: Pool): boolean;
  /**
   * Appends on `client`, inside the transaction the caller has open there. A duplicate event id
   * is not recognised as a retry here: the failed statement has already aborted the transaction.
   */
  appendWithin(
    client: ClientBase,
    streamName: string,
    events: readonly EventToAppend[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /**
   * Appends to several streams in one round trip inside the caller's transaction on `client`:
   * all or nothing, each stream guarded by its own expected revision. Refused streams leave the
   * caller's transaction as it was and are named in the StreamsRefusedError thrown.
   */
  appendManyWithin(client: ClientBase, appends: readonly StreamAppend[]): Promise<AppendResult[]>;
  /**
   * appendToStreams with `beside` in the same statement: one round trip, one commit. Streams go at
   * any revision, or, given an `expectedRevision` (a decision's), only at it: when one is elsewhere
   * nothing of the statement is stored and the StreamsRefusedError thrown names it.
   */
  appendToStreamsBeside(streams: readonly (StreamEvents | StreamAppend)[], beside: WritesBeside): Promise<AppendResult[]>;
  /**
   * The store's SQL function `(stream text, events jsonb) RETURNS TABLE (new_revision bigint,
   * last_seq bigint)` that appends at any revision, for statements of the caller's that append
   * beside their own writes when `appendToStreamsBeside` cannot say what they need (appending
   * only what the statement's own writes let through). `events` is a JSON array of
   * `{id, type, data, metadata}`.
   */
  readonly appendAnyFunction: string;
}

export class WrongExpectedRevisionError extends Error {
  override readonly name = 'WrongExpectedRevisionError';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** The stream's actual revision when known; -1n when the stream does not exist. */
    readonly actual?: bigint,
  ) {
    super(`stream ${streamName}: expected revision ${String(expected)}, actual ${actual === undefined ? 'unknown' : String(actual)}`);
  }
}

/** Some streams of a multi-stream append were not at their expected revision; `streamName` is the first. */
export class StreamsRefusedError extends WrongExpectedRevisionError {
  constructor(readonly streamNames: readonly string[]) {
    super(streamNames[0]!, 'any');
    this.message = `expected revisions did not hold for ${streamNames.length} stream(s), first ${streamNames[0]}`;
  }
}

/** The streams a refused append names: every one of a multi-stream append, or the one of a single append. */
export function refusedStreams(error: WrongExpectedRevisionError): readonly string[] {
  return error instanceof StreamsRefusedError ? error.streamNames : [error.streamName];
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function positionToString(position: Position): string {
  return `${position.commit}/${position.prepare}`;
}

export function positionFromString(text: string): Position {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  if (!match) throw new Error(`not a position: ${text}`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

export function matchesFilter(filter: EventFilter | undefined, streamName: string, type: string): boolean {
  if (streamName.startsWith('$') || type.startsWith('$')) return false;
  if (!filter) return true;
  const { streamNamePrefixes, eventTypePrefixes } = filter;
  if (streamNamePrefixes && !streamNamePrefixes.some((p) => streamName.startsWith(p))) return false;
  if (eventTypePrefixes && !eventTypePrefixes.some((p) => type.startsWith(p))) return false;
  return true;
}
