import type { AllSubscription, AppendedEvents, EventFilter, Position, RecordedEvent, SubscribeToAllOptions } from '../event-store';
import type { Queryable } from './append';
import { toPosition, toRecordedEvent, type EventRow } from './rows';
import { READ_ALL_PAGE_FUNCTION } from './schema';

/** How many recent appends the signal remembers for subscriptions that were busy reading when they happened. */
const REMEMBERED_APPENDS = 256;

/**
 * What another process announced it appended (see AppendBroadcast): stream categories and event
 * types, without saying which type went to which stream.
 */
export interface AppendSummary {
  readonly categories: readonly string[];
  readonly types: readonly string[];
}

type Appended = AppendedEvents | AppendSummary | undefined;

/**
 * Wakes waiting subscriptions when an append commits, in this process or (announced through
 * AppendBroadcast) in another, but only those whose filter takes one of the appended events: on a
 * busy service most appends concern one reader, and every needless wake-up costs a query.
 */
export class AppendSignal {
  private version = 0;
  private readonly recent: Appended[] = [];
  private readonly waiters = new Set<{ filter: EventFilter | undefined; wake: () => void }>();

  get current(): number {
    return this.version;
  }

  /** `appended` undefined: something unknown was written, every subscription looks. */
  notify(appended?: Appended): void {
    this.version++;
    this.recent.push(appended);
    if (this.recent.length > REMEMBERED_APPENDS) this.recent.shift();
    for (const waiter of this.waiters) if (concerns(waiter.filter, appended)) waiter.wake();
  }

  /**
   * Resolves 'appended' at the first append after `seen` that `filter` takes (at once if one
   * already happened), 'idle' after `ms`, or on abort.
   */
  wait(seen: number, ms: number, abort: AbortSignal, filter?: EventFilter): Promise<'appended' | 'idle'> {
    if (abort.aborted || this.appendedSince(seen, filter)) return Promise.resolve('appended');
    return new Promise((resolve) => {
      const done = (outcome: 'appended' | 'idle') => (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        abort.removeEventListener('abort', waiter.wake);
        resolve(outcome);
      };
      const waiter = { filter, wake: done('appended') };
      const timer = setTimeout(done('idle'), ms);
      this.waiters.add(waiter);
      abort.addEventListener('abort', waiter.wake, { once: true });
    });
  }

  private appendedSince(seen: number, filter: EventFilter | undefined): boolean {
    const missed = this.version - seen;
    if (missed <= 0) return false;
    // Older than what is remembered: look rather than risk sleeping through it.
    if (missed > this.recent.length) return true;
    return this.recent.slice(-missed).some((appended) => concerns(filter, appended));
  }
}

/** The subscription filter's rule (see PAGE_STATEMENT), applied to what an append wrote. */
function concerns(filter: EventFilter | undefined, appended: Appended): boolean {
  if (!appended) return true;
  if ('categories' in appended) return summaryConcerns(filter, appended);
  const { streamName, types } = appended;
  if (streamName.startsWith('$')) return false;
  if (filter?.streamNamePrefixes && !filter.streamNamePrefixes.some((prefix) => streamName.startsWith(prefix))) return false;
  return takesSomeType(filter, types);
}

/**
 * A category `pulse.messages-` may hold streams any prefix that starts with it names (a filter on
 * one stream), and any shorter prefix takes the whole category: either way the subscription looks.
 */
function summaryConcerns(filter: EventFilter | undefined, { categories, types }: AppendSummary): boolean {
  const prefixes = filter?.streamNamePrefixes;
  if (prefixes && !categories.some((category) => prefixes.some((prefix) => category.startsWith(prefix) || prefix.startsWith(category))))
    return false;
  return takesSomeType(filter, types);
}

function takesSomeType(filter: EventFilter | undefined, types: readonly string[]): boolean {
  return types.some(
    (type) => !type.startsWith('$') && (!filter?.eventTypePrefixes || filter.eventTypePrefixes.some((prefix) => type.startsWith(prefix))),
  );
}

export interface SubscriptionSettings {
  /** Events scanned per query (before filtering). */
  readonly pageSize: number;
  /** Poll delay right after activity; doubles while idle up to `maxPollMs`. */
  readonly minPollMs: number;
  readonly maxPollMs: number;
  /**
   * After an append in this process wakes the subscription, how long it lingers before reading,
   * so that the appends of concurrent requests arrive in one page and one projection transaction
   * instead of one each (as a producer's linger batches messages). Adds at most this much lag.
   */
  readonly lingerMs: number;
}

/**
 * Reads the next page of the global order after `from`.
 *
 * A bigserial is drawn at insert time but transactions commit in any order, so "seq > last seen"
 * would step over a row whose transaction commits after a later one. Ordering by transaction id
 * and only reading transactions older than the snapshot's xmin (the oldest one still running)
 * closes that gap: every transaction that can still commit has an id at or above xmin, so it will
 * land after everything already read. xmin and the scan share the statement's snapshot, so no
 * transaction below xmin can be invisible to the scan.
 *
 * The filter runs in SQL over the scanned page; the page's last row always comes back (marked
 * unmatched if it does not pass) so the cursor moves past events this subscription does not want
 * instead of rescanning them on every poll.
 */
const PAGE_STATEMENT = {
  name: 'tessera_es_read_all_page',
  text: `SELECT * FROM ${READ_ALL_PAGE_FUNCTION}($1::xid8, $2::bigint, $3::int, $4::text[], $5::text[])`,
};

interface Page {
  readonly events: RecordedEvent[];
  readonly scannedTo?: Position;
  readonly scanned: number;
}

async function readPage(db: Queryable, from: Position, filter: EventFilter | undefined, pageSize: number): Promise<Page> {
  const { rows } = await db.query<EventRow & { matched: boolean; scanned: number }>({
    ...PAGE_STATEMENT,
    values: [
      from.commit.toString(),
      from.prepare.toString(),
      pageSize,
      filter?.streamNamePrefixes ?? null,
      filter?.eventTypePrefixes ?? null,
    ],
  });
  const last = rows[rows.length - 1];
  return {
    events: rows.filter((row) => row.matched).map(toRecordedEvent),
    scannedTo: last && toPosition(last.transaction_id, last.seq),
    scanned: last?.scanned ?? 0,
  };
}

/**
 * Catch-up then live over `$all`. Its own iterator: `next()` calls are served one after another
 * (a caller may leave one pending while it does other work), and `close()` or `return()` (what
 * `break` in `for await` calls) wakes a waiting `next()` and ends the iteration.
 */
export class PostgresAllSubscription implements AllSubscription, AsyncIterator<RecordedEvent> {
  private cursor: Position;
  private buffer: RecordedEvent[] = [];
  private delivered = 0;
  private closed = false;
  private readonly stopWaiting = new AbortController();
  private turn: Promise<unknown> = Promise.resolve();
  private atHead = false;
  private seenBeforeRead = 0;
  private lastReadAt = 0;
  private pollDelay: number;

  constructor(
    private readonly db: Queryable,
    private readonly signal: AppendSignal,
    private readonly options: SubscribeToAllOptions,
    private readonly settings: SubscriptionSettings,
    private readonly onClose: (subscription: PostgresAllSubscription) => void,
  ) {
    this.pollDelay = settings.minPollMs;
    const from = options.from ?? 'start';
    this.cursor = from === 'start' ? { commit: 0n, prepare: 0n } : from;
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    return this;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    const result = this.turn.then(() => this.take());
    this.turn = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    await this.close();
    return { done: true, value: undefined };
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.stopWaiting.abort();
      this.onClose(this);
    }
    // Lets a query already on the wire finish, so closing the pool afterwards does not cut it off.
    await this.turn;
  }

  private async take(): Promise<IteratorResult<RecordedEvent>> {
    while (!this.closed) {
      if (this.delivered < this.buffer.length) return { done: false, value: this.buffer[this.delivered++]! };
      await this.fill();
    }
    return { done: true, value: undefined };
  }

  /** Tells the reader how far the log is scanned (see SubscribeToAllOptions.onScannedTo). */
  private reportScanned(): void {
    if (this.cursor.commit > 0n || this.cursor.prepare > 0n) this.options.onScannedTo?.(this.cursor);
  }

  /**
   * Reads pages until one delivers. A page that scanned less than a full page reached the head of
   * the log as of its snapshot, so the next read waits for an append this subscription cares about,
   * or until the poll delay since the last read has passed (for writers in other processes; a
   * consumer slower than the delay polls again at once). The signal's version is taken before each
   * read, so an append committed during the read or the apply still wakes the wait.
   */
  private async fill(): Promise<void> {
    const { pageSize, minPollMs, lingerMs } = this.settings;
    const maxPollMs = Math.max(minPollMs, this.options.idlePollMs ?? this.settings.maxPollMs);
    // Everything buffered was taken, so every event up to the cursor that the filter takes is delivered.
    this.reportScanned();
    while (!this.closed) {
      if (this.atHead) {
        const due = this.lastReadAt + this.pollDelay - performance.now();
        const woken = due > 0 ? await this.signal.wait(this.seenBeforeRead, due, this.stopWaiting.signal, this.options.filter) : 'idle';
        if (this.closed) return;
        if (woken === 'appended' && lingerMs > 0) await sleepUnlessAborted(lingerMs, this.stopWaiting.signal);
      }
      this.seenBeforeRead = this.signal.current;
      this.lastReadAt = performance.now();
      const page = await readPage(this.db, this.cursor, this.options.filter, pageSize);
      if (page.scannedTo) this.cursor = page.scannedTo;
      this.atHead = page.scanned < pageSize;
      if (page.events.length > 0) {
        this.pollDelay = minPollMs;
        this.buffer = page.events;
        this.delivered = 0;
        return;
      }
      this.reportScanned();
      // Nothing new: poll less often the longer the log stays quiet.
      this.pollDelay = Math.min(this.pollDelay * 2, maxPollMs);
    }
  }
}

function sleepUnlessAborted(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    abort.addEventListener('abort', done, { once: true });
  });
}
