import { Pool, type ClientBase, type ClientConfig, type PoolConfig } from 'pg';
import type {
  AllSubscription,
  AppendedEvents,
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  Position,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  StreamEvents,
  SubscribeToAllOptions,
  TransactionalEventStore,
  WritesBeside,
} from '../event-store';
import { appendEvents } from './append';
import { appendManyWithin, appendToStreams, appendToStreamsBeside, startStreams } from './append-many';
import { EVENT_COLUMNS, toPosition, toRecordedEvent, type EventRow } from './rows';
import { APPEND_ANY_FUNCTION, migrateSchema } from './schema';
import { AppendBroadcast } from './append-broadcast';
import { AppendSignal, PostgresAllSubscription, type SubscriptionSettings } from './subscription';
import { inTransaction } from './transaction';

export interface PostgresEventStoreOptions extends Partial<SubscriptionSettings> {
  /**
   * Announce this process's appends to subscriptions in other processes and hear theirs (see
   * AppendBroadcast), on one extra connection per pool. Off, other processes' appends are seen by
   * polling alone, within `maxPollMs`.
   */
  readonly wakeOtherProcesses?: boolean;
  /**
   * The store has a database of its own, apart from the callers' read models (EVENTSTORE_URL
   * naming PostgreSQL): it then offers no `transactional`, since a caller's transaction is on
   * another database and an append made within it would land there. Callers take the path they
   * take on EventStoreDB, which is what this layout stands in for.
   */
  readonly ownDatabase?: boolean;
}

export interface PostgresConnectOptions extends PostgresEventStoreOptions {
  /** Passed to the pool this store creates (size, timeouts, ssl, ...). */
  readonly pool?: Omit<PoolConfig, 'connectionString'>;
}

const DEFAULT_SETTINGS: SubscriptionSettings = { pageSize: 500, minPollMs: 5, maxPollMs: 50, lingerMs: 5 };

/**
 * Stores that share a pool share one signal, so an append through any of them wakes the
 * subscriptions of all of them.
 */
const signals = new WeakMap<Pool, AppendSignal>();

function signalFor(pool: Pool): AppendSignal {
  let signal = signals.get(pool);
  if (!signal) signals.set(pool, (signal = new AppendSignal()));
  return signal;
}

/** Likewise one broadcast per pool, whichever of its stores asked for it first. */
const broadcasts = new WeakMap<Pool, AppendBroadcast>();

function broadcastFor(pool: Pool, settings: SubscriptionSettings): AppendBroadcast {
  let broadcast = broadcasts.get(pool);
  if (!broadcast) {
    const connection = (pool as unknown as { options: ClientConfig }).options;
    broadcasts.set(pool, (broadcast = new AppendBroadcast(connection, signalFor(pool), settings.minPollMs)));
  }
  return broadcast;
}

/**
 * The event store on PostgreSQL (schema in schema.ts). Append takes one statement; `$all` is read
 * by polling in (transaction id, seq) order, see subscription.ts for why that order never skips.
 * It offers every optional capability of the port, `transactional` included (the store itself),
 * unless it was told it has a database of its own (`ownDatabase`).
 */
export class PostgresEventStore implements EventStore, TransactionalEventStore {
  readonly transactional?: TransactionalEventStore;
  readonly appendAnyFunction = APPEND_ANY_FUNCTION;
  private readonly settings: SubscriptionSettings;
  private readonly signal: AppendSignal;
  private readonly broadcast?: AppendBroadcast;
  private readonly subscriptions = new Set<PostgresAllSubscription>();
  private closed = false;
  private ownsPool = false;

  /** Uses `pool` without owning it: `close()` leaves it open for its owner to end. */
  constructor(
    private readonly pool: Pool,
    options: PostgresEventStoreOptions = {},
  ) {
    const { wakeOtherProcesses, ownDatabase, ...settings } = options;
    if (!ownDatabase) this.transactional = this;
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
    this.signal = signalFor(pool);
    if (wakeOtherProcesses) {
      this.broadcast = broadcastFor(pool, this.settings);
      this.broadcast.retain();
    }
  }

  /** A store on its own pool, which `close()` ends. */
  static async connect(url: string, options: PostgresConnectOptions = {}): Promise<PostgresEventStore> {
    const { pool: poolConfig, ...storeOptions } = options;
    const pool = new Pool({ ...poolConfig, connectionString: url });
    // An idle client losing its connection emits 'error' on the pool, which would otherwise crash
    // the process; the next query on a fresh client reports the outage to its caller instead.
    pool.on('error', () => undefined);
    const store = new PostgresEventStore(pool, storeOptions);
    store.ownsPool = true;
    try {
      await store.ping();
    } catch (error) {
      await pool.end();
      throw error;
    }
    return store;
  }

  /** Creates the tables and indexes if missing; safe to run from several processes at once. */
  migrate(): Promise<void> {
    return migrateSchema(this.pool);
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    const result = await appendEvents(this.pool, { streamName, events, expected, inCallerTransaction: false });
    if (events.length > 0) this.announce({ streamName, types: events.map((event) => event.type) });
    return result;
  }

  /** See TransactionalEventStore.appendWithin. */
  appendWithin(
    client: ClientBase,
    streamName: string,
    events: readonly EventToAppend[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    return appendEvents(client, { streamName, events, expected, inCallerTransaction: true });
  }

  /** See TransactionalEventStore.appendManyWithin. */
  appendManyWithin(client: ClientBase, appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    return appendManyWithin(client, appends);
  }

  /** See EventStore.notifyCommitted; without details every subscription looks. */
  notifyCommitted(appended?: readonly AppendedEvents[]): void {
    if (!appended) this.announce();
    else for (const each of appended) this.announce(each);
  }

  async startStreams(streams: readonly StreamEvents[]): Promise<AppendResult[]> {
    const results = await startStreams(this.pool, streams);
    this.notifyStreams(streams);
    return results;
  }

  /** See EventStore.appendToStreams. */
  async appendToStreams(streams: readonly StreamEvents[]): Promise<AppendResult[]> {
    const results = await appendToStreams(this.pool, streams);
    this.notifyStreams(streams);
    return results;
  }

  /** See EventStore.appendToStreamsExpecting: appendManyWithin in a transaction of its own. */
  async appendToStreamsExpecting(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    const results = await inTransaction(this.pool, (client) => appendManyWithin(client, appends));
    this.notifyStreams(appends);
    return results;
  }

  /** See TransactionalEventStore.sharesDatabaseWith. */
  sharesDatabaseWith(pool: Pool): boolean {
    const url = (other: Pool) => (other as unknown as { options?: { connectionString?: string } }).options?.connectionString;
    return pool === this.pool || (url(pool) !== undefined && url(pool) === url(this.pool));
  }

  /** See TransactionalEventStore.appendToStreamsBeside. */
  async appendToStreamsBeside(streams: readonly (StreamEvents | StreamAppend)[], beside: WritesBeside): Promise<AppendResult[]> {
    if (streams.length === 0) throw new Error('appendToStreamsBeside: no streams');
    const results = await appendToStreamsBeside(this.pool, streams, beside);
    this.notifyStreams(streams);
    return results;
  }

  private notifyStreams(streams: readonly StreamEvents[]): void {
    for (const stream of streams) this.announce({ streamName: stream.streamName, types: stream.events.map((event) => event.type) });
  }

  /** An append committed: wake this process's subscriptions now and other processes' soon. */
  private announce(appended?: AppendedEvents): void {
    this.signal.notify(appended);
    this.broadcast?.publish(appended);
  }

  /** See EventStore.readStreams. */
  async readStreams(streamNames: readonly string[]): Promise<Map<string, RecordedEvent[]>> {
    const streams = new Map<string, RecordedEvent[]>(streamNames.map((name) => [name, []]));
    if (streamNames.length === 0) return streams;
    const { rows } = await this.pool.query<EventRow>({
      name: 'tessera_es_read_streams',
      text: `SELECT ${EVENT_COLUMNS} FROM es_events WHERE stream_name = ANY($1::text[])
             ORDER BY es_events.stream_name, es_events.stream_revision`,
      values: [streamNames],
    });
    for (const row of rows) streams.get(row.stream_name)?.push(toRecordedEvent(row));
    return streams;
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query<EventRow>({
      name: 'tessera_es_read_stream',
      text: `SELECT ${EVENT_COLUMNS} FROM es_events
             WHERE stream_name = $1 AND stream_revision >= $2::bigint
             ORDER BY es_events.stream_revision LIMIT $3`,
      values: [streamName, (options.fromRevision ?? 0n).toString(), options.maxCount ?? null],
    });
    return rows.map(toRecordedEvent);
  }

  /**
   * Deletes among the stream's `maxCount` oldest events those committed before `before`: the scan
   * is bounded by the index on (stream, revision) whether or not anything is old enough, and since
   * commits of one stream are serialised their times rise with the revision, so what goes is a prefix.
   */
  async removeEventsBefore(streamName: string, before: Date, maxCount: number): Promise<number> {
    const { rowCount } = await this.pool.query({
      name: 'tessera_es_remove_before',
      text: `DELETE FROM es_events WHERE seq IN (
               SELECT seq FROM es_events WHERE stream_name = $1 ORDER BY stream_revision LIMIT $3)
             AND created_at < $2`,
      values: [streamName, before, maxCount],
    });
    return rowCount ?? 0;
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const subscription = new PostgresAllSubscription(this.pool, this.signal, options, this.settings, (closed) =>
      this.subscriptions.delete(closed),
    );
    if (this.closed) void subscription.close();
    else this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * The last committed event, once every transaction that began before it has ended: a
   * subscription can then read everything up to it, and nothing can still commit before it. Only
   * transactions older than that event are waited for, not later appends, so a busy log answers
   * as soon as they end. One held open for longer than `HEAD_SETTLE_MS` gets the last event below
   * the horizon instead.
   */
  async headPosition(): Promise<Position | undefined> {
    const { rows } = await this.pool.query<{ commit: string; prepare: string; settled: boolean }>(HEAD_STATEMENT);
    const last = rows[0];
    if (!last) return undefined;
    const head = toPosition(last.commit, last.prepare);
    if (last.settled) return head;
    const deadline = performance.now() + HEAD_SETTLE_MS;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const { rows: horizon } = await this.pool.query<{ settled: boolean }>({ ...HORIZON_PASSED_STATEMENT, values: [last.commit] });
      if (horizon[0]!.settled) return head;
    }
    const { rows: settled } = await this.pool.query<{ commit: string; prepare: string }>(SETTLED_HEAD_STATEMENT);
    return settled[0] && toPosition(settled[0].commit, settled[0].prepare);
  }

  async headAgeSeconds(): Promise<number> {
    const { rows } = await this.pool.query<{ age: number | null }>(HEAD_AGE_STATEMENT);
    return Math.max(0, rows[0]?.age ?? 0);
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Ends every subscription of this store, then the pool if this store created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await this.broadcast?.release();
    if (this.ownsPool) await this.pool.end();
  }
}

const HEAD_SETTLE_MS = 1000;

const HEAD_STATEMENT = {
  name: 'tessera_es_head',
  text: `SELECT transaction_id::text AS commit, seq::text AS prepare,
            transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS settled
         FROM es_events ORDER BY transaction_id DESC, seq DESC LIMIT 1`,
};

const HORIZON_PASSED_STATEMENT = {
  name: 'tessera_es_horizon_passed',
  text: 'SELECT $1::xid8 < pg_snapshot_xmin(pg_current_snapshot()) AS settled',
};

/**
 * The first event at or above the horizon (the oldest transaction still running): what every
 * subscription waits for. One index probe on the global order, however many events wait behind it;
 * its created_at is its transaction's start, so a long-open writer shows its full age.
 */
const HEAD_AGE_STATEMENT = {
  name: 'tessera_es_head_age',
  text: `SELECT extract(epoch FROM clock_timestamp() - created_at)::float8 AS age FROM es_events
         WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY transaction_id, seq LIMIT 1`,
};

const SETTLED_HEAD_STATEMENT = {
  name: 'tessera_es_head_position',
  text: `SELECT transaction_id::text AS commit, seq::text AS prepare FROM es_events
         WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY es_events.transaction_id DESC, es_events.seq DESC LIMIT 1`,
};
