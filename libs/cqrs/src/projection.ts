import type { EntityManager } from 'typeorm';
import type { AppendedEvents, EventFilter } from '#eventstore';
import type { EventEnvelope } from './event-envelope';

/** A read model kept up to date from the event store. */
export interface Projection {
  /** Stable name: the checkpoint is stored under it. */
  readonly name: string;
  readonly filter: EventFilter;
  /**
   * Applies one event inside the runner's transaction. Runs again for the same event only if the
   * transaction that applied it rolled back, so effects are exactly once without idempotency keys.
   */
  apply?(envelope: EventEnvelope, tx: EntityManager): Promise<void>;
  /**
   * Applies a whole batch (in log order) inside the runner's transaction, for projections that
   * are faster set-based (one statement per table instead of one per event). Takes precedence
   * over `apply`; same exactly-once guarantee. A projection that appends events inside the
   * transaction answers which: once the batch commits, the runner tells the store, so that the
   * subscriptions in this process that want them read them at once instead of at their next poll,
   * and the others are not woken for nothing.
   */
  applyBatch?(envelopes: readonly EventEnvelope[], tx: EntityManager): Promise<readonly AppendedEvents[] | void>;
  /** Events per transaction at most (default 500). */
  readonly maxBatch?: number;
  /**
   * Commit without waiting for the WAL flush. Safe only when every effect of the batch is in the
   * read-model database: a crash then loses the last batches and their checkpoint together, and
   * they are replayed (the next batch finds the checkpoint it expected gone and restarts from the
   * stored one). Never for projections that call out. `'unless-appending'`: only the batches whose
   * applyBatch answered no appended events; a batch that appends waits for the flush, which also
   * makes every batch committed before it durable.
   */
  readonly asynchronousCommit?: boolean | 'unless-appending';
  /**
   * false: events come with their personal fields still sealed (`envelope.sealed`), for a
   * projection that needs them only for some events and opens those itself: opening costs a
   * decryption and a key lookup per event.
   */
  readonly openPersonalData?: boolean;
  /**
   * How late, at most, this projection may see an event another process appended, where the store
   * polls (see SubscribeToAllOptions.idlePollMs); the store's default otherwise. For projections of
   * rare requests that nobody waits on within the second (privacy requests), not for read models a
   * person's next request reads.
   */
  readonly idlePollMs?: number;
  /**
   * The runner (re)starts from the stored checkpoint, which another runner of the projection (a
   * replica) may have moved past events this one never saw, or a transaction of this runner rolled
   * back (a failed batch, a part of one while a poison event is isolated, a retry of a parked event
   * that failed again): a projection that keeps what it learnt from the log between batches must
   * forget it here.
   */
  resumed?(): void;
  /**
   * The transaction just applied committed (a batch, a part of one, a retried parked event): what
   * the projection learnt from it may be kept from now on. Every transaction the projection applied
   * events in is followed by exactly one of committed() and resumed().
   */
  committed?(): void;
}

export interface ProjectionLogger {
  warn(message: string, fields?: object): void;
}
