import { ExpiringLruCache } from '#platform';
import type { DataSource, EntityManager, EntitySubscriberInterface, QueryRunner } from 'typeorm';

/** A stream's folded state and the revision it was folded to. */
export interface CachedState {
  readonly state: unknown;
  readonly revision: bigint;
}

/**
 * The folded states of streams this process decided on, so that a command on a busy stream (a
 * wallet of thousands of events) costs no read. A cached state may be stale (another process
 * wrote): the append's expected revision catches that, and command handling then reads the tail.
 *
 * The cache only ever holds states the store holds too. A single command's state comes back once
 * its append returned; a batch's that was appended in a caller's transaction only once that
 * transaction committed (rememberOnCommit), so a rollback leaves the streams to be read afresh.
 *
 * In this process, commands and reads of one stream take turns (inTurn): 50 concurrent
 * redemptions on one wallet become a queue rather than 50 retry storms.
 */
export class StreamStateCache {
  private readonly entries: ExpiringLruCache<CachedState>;
  private readonly turns = new Map<string, Promise<void>>();
  /** States appended in a transaction that has not ended yet, by its query runner. */
  private readonly uncommitted = new WeakMap<QueryRunner, Map<string, CachedState>>();
  private readonly watched = new WeakSet<DataSource>();

  constructor(maxStreams: number) {
    this.entries = new ExpiringLruCache(maxStreams, Number.POSITIVE_INFINITY);
  }

  /** The state of a stream whose turn the caller holds. */
  peek(streamName: string): CachedState | undefined {
    return this.entries.get(streamName);
  }

  /**
   * Takes the states of streams out of the cache, for a batch to decide on: `evolve` may hand a
   * state's collections on to the next, so a state being decided on must belong to one decider
   * alone. A stream whose turn someone holds is left to them (the batch reads it from the store).
   */
  take(streamNames: readonly string[]): Map<string, CachedState> {
    const taken = new Map<string, CachedState>();
    for (const name of streamNames) {
      if (this.turns.has(name)) continue;
      const entry = this.entries.get(name);
      if (!entry) continue;
      this.entries.delete(name);
      taken.set(name, entry);
    }
    return taken;
  }

  /** Keeps a state the store holds, unless the cache already has a later one. */
  remember(streamName: string, entry: CachedState): void {
    const cached = this.entries.get(streamName);
    if (!cached || cached.revision <= entry.revision) this.entries.set(streamName, entry);
  }

  /** Keeps the states once the transaction of `tx` commits; forgets them if it rolls back. */
  rememberOnCommit(tx: EntityManager, states: ReadonlyMap<string, CachedState>): void {
    const queryRunner = tx.queryRunner;
    if (!queryRunner) return;
    this.watch(tx.connection);
    const pending = this.uncommitted.get(queryRunner) ?? new Map<string, CachedState>();
    for (const [name, entry] of states) pending.set(name, entry);
    this.uncommitted.set(queryRunner, pending);
  }

  /**
   * Runs `work` once the commands and reads of the stream queued before it in this process are
   * done. A state half folded or half decided must not outlive an error: the stream is forgotten.
   */
  async inTurn<T>(streamName: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(streamName) ?? Promise.resolve();
    let done!: () => void;
    const gate = new Promise<void>((resolve) => (done = resolve));
    const mine = previous.then(() => gate);
    this.turns.set(streamName, mine);
    await previous;
    try {
      return await work();
    } catch (error) {
      this.entries.delete(streamName);
      throw error;
    } finally {
      done();
      if (this.turns.get(streamName) === mine) this.turns.delete(streamName);
    }
  }

  /** Learns of the transactions of `dataSource` ending, through a TypeORM subscriber (once per data source). */
  private watch(dataSource: DataSource): void {
    if (this.watched.has(dataSource)) return;
    this.watched.add(dataSource);
    const settle = (queryRunner: QueryRunner, committed: boolean) => {
      const states = this.uncommitted.get(queryRunner);
      if (!states) return;
      this.uncommitted.delete(queryRunner);
      if (committed) for (const [name, entry] of states) this.remember(name, entry);
    };
    const subscriber: EntitySubscriberInterface = {
      afterTransactionCommit: (event) => settle(event.queryRunner, true),
      afterTransactionRollback: (event) => settle(event.queryRunner, false),
    };
    (dataSource.subscribers as EntitySubscriberInterface[]).push(subscriber);
  }
}
