import type {
  AllSubscription,
  EventFilter,
  Position,
  RecordedEvent,
  SubscribeToAllOptions,
} from '../event-store';
import type { Queryable } from './append';
import { EVENT_COLUMNS, toPosition, toRecordedEvent, type EventRow } from './rows';

/**
 * Wakes waiting subscriptions when an append in this process commits. Writers in other processes
 * are only seen by polling: NOTIFY would take a cluster-wide lock at every commit and serialise
 * all appends.
 */
export class AppendSignal {
  private version = 0;
  private readonly waiters = new Set<() => void>();

  get current(): number {
    return this.version;
  }

  notify(): void {
    this.version++;
    for (const wake of this.waiters) wake();
  }

  /** Resolves at the first notify after `seen` (at once if one already happened), after `ms`, or on abort. */
  wait(seen: number, ms: number, abort: AbortSignal): Promise<void> {
    if (this.version !== seen || abort.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        abort.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waiters.add(wake);
      abort.addEventListener('abort', wake, { once: true });
    });
  }
}

export interface SubscriptionSettings {
  /** Events scanned per query (before filtering). */
  readonly pageSize: number;
  /** Poll delay right after activity; doubles while idle up to `maxPollMs`. */
  readonly minPollMs: number;
  readonly maxPollMs: number;
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
  text: `WITH page AS MATERIALIZED (
      SELECT e.*,
        NOT starts_with(e.stream_name, '$') AND NOT starts_with(e.type, '$')
          AND ($4::text[] IS NULL OR e.stream_name ^@ ANY($4::text[]))
          AND ($5::text[] IS NULL OR e.type ^@ ANY($5::text[])) AS matched
      FROM es_events e
      WHERE (e.transaction_id, e.seq) > ($1::xid8, $2::bigint)
        AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY e.transaction_id, e.seq
      LIMIT $3)
    SELECT ${EVENT_COLUMNS}, matched, (SELECT count(*) FROM page)::int AS scanned
    FROM page
    WHERE matched OR (page.transaction_id, page.seq) =
      (SELECT last.transaction_id, last.seq FROM page last ORDER BY last.transaction_id DESC, last.seq DESC LIMIT 1)
    ORDER BY page.transaction_id, page.seq`,
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

  constructor(
    private readonly db: Queryable,
    private readonly signal: AppendSignal,
    private readonly options: SubscribeToAllOptions,
    private readonly settings: SubscriptionSettings,
    private readonly onClose: (subscription: PostgresAllSubscription) => void,
  ) {
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

  private async fill(): Promise<void> {
    const { pageSize, minPollMs, maxPollMs } = this.settings;
    let delay = minPollMs;
    while (!this.closed) {
      const seen = this.signal.current;
      const page = await readPage(this.db, this.cursor, this.options.filter, pageSize);
      if (page.scannedTo) this.cursor = page.scannedTo;
      if (page.events.length > 0) {
        this.buffer = page.events;
        this.delivered = 0;
        return;
      }
      if (page.scanned === pageSize) continue;
      await this.signal.wait(seen, delay, this.stopWaiting.signal);
      delay = this.signal.current === seen ? Math.min(delay * 2, maxPollMs) : minPollMs;
    }
  }
}
