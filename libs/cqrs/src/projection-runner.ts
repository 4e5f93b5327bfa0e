import type { DataSource, EntityManager } from 'typeorm';
import {
  comparePositions,
  positionToString,
  type AllSubscription,
  type AppendedEvents,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '#eventstore';
import type { EventCodec } from './event-codec';
import type { EventEnvelope } from './event-envelope';
import { DEFAULT_ISOLATION, PoisonIsolation, type IsolationOptions } from './poison-isolation';
import type { Projection, ProjectionLogger } from './projection';
import { classifyFailure, type ClassifiedFailure } from './projection-failures';
import type { ProjectionMetrics } from './projection-metrics';
import {
  advanceCheckpoint,
  bumpEpoch,
  CheckpointMovedError,
  loadCheckpoint,
  recordParked,
  tenantOf,
  type Checkpoint,
  type EventToPark,
} from './projection-tables';
import { findRecorded, noteFailedAttempt, type ParkedEventRef } from './parked-events';

const MAX_BATCH = 500;
const NOTHING_READY = Symbol('nothing ready');

/** How a retried parked event fared: applied (and its row removed), failed again (row kept), or already gone. */
export type RetryOutcome =
  { readonly outcome: 'applied' } | { readonly outcome: 'failed'; readonly failure: ClassifiedFailure } | { readonly outcome: 'gone' };

/**
 * Feeds one projection from a `$all` subscription. Each batch of events and the checkpoint after
 * it commit in one read-model transaction, so a crash anywhere replays exactly what was not
 * committed. Batches form naturally: whatever the subscription already holds when the previous
 * batch commits goes into the next one. An event that cannot be applied is parked rather than
 * retried forever in front of the others (see PoisonIsolation); an event that cannot be decoded
 * is parked at once.
 */
export class ProjectionRunner {
  private subscription?: AllSubscription;
  private running?: Promise<void>;
  private stopped = false;
  private checkpoint?: Position;
  private epoch = '0';
  /** The last event the subscription handed over, and how far it has delivered everything it takes. */
  private delivered?: Position;
  private scannedTo?: Position;
  private behindSince?: Date;
  private readonly waiters = new Set<{ position: Position; resolve: () => void }>();
  /** Batches and retries of parked events, one at a time: they share the projection's in-memory state. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private readonly isolation: PoisonIsolation;

  constructor(
    private readonly projection: Projection,
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    private readonly dataSource: DataSource,
    private readonly metrics?: ProjectionMetrics,
    private readonly logger?: ProjectionLogger,
    isolation: Partial<IsolationOptions> = {},
  ) {
    if (!projection.apply && !projection.applyBatch) throw new Error(`projection ${projection.name} has neither apply nor applyBatch`);
    metrics?.watch(projection.name, () => this.lagSeconds());
    this.isolation = new PoisonIsolation(
      projection.name,
      { commit: (events) => this.commit(events), park: (event) => this.park(event) },
      { ...DEFAULT_ISOLATION, ...isolation },
      logger,
    );
  }

  get name(): string {
    return this.projection.name;
  }

  start(): void {
    this.stopped = false;
    this.running ??= this.runUntilStopped();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.subscription?.close();
    await this.running;
    this.running = undefined;
  }

  /** Seconds between now and the oldest event received but not yet committed; 0 when caught up. */
  lagSeconds(now = new Date()): number {
    return this.behindSince ? Math.max(0, (now.getTime() - this.behindSince.getTime()) / 1000) : 0;
  }

  /** Resolves once the projection has committed the event at `position` (read-your-writes). */
  waitFor(position: Position, timeoutMs = 10_000): Promise<void> {
    if (this.checkpoint && comparePositions(this.checkpoint, position) >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`projection ${this.name} did not reach the position within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /**
   * Applies a parked event again, out of log order, between two of this runner's batches: it is
   * read again from the store and applied through the projection in a transaction that removes
   * its row. When it fails again the row stays, one attempt more, with the new error.
   */
  retryParked(parked: ParkedEventRef): Promise<RetryOutcome> {
    return this.exclusively(() => this.applyParked(parked));
  }

  private async runUntilStopped(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.consume();
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        if (error instanceof CheckpointMovedError) continue;
        failures++;
        this.behindSince ??= new Date();
        const failure = classifyFailure(error);
        this.logger?.warn('projection failed; restarting from its checkpoint', {
          projection: this.name,
          failure: failure.class,
          errorKind: failure.kind,
          reason: failure.reason,
        });
        await sleep(Math.min(5000, 50 * 2 ** Math.min(failures, 7)));
      }
    }
  }

  private async consume(): Promise<void> {
    const stored = await loadCheckpoint(this.dataSource, this.name);
    this.checkpoint = stored.position;
    this.epoch = stored.epoch;
    this.projection.resumed?.();
    // Another replica may have committed what our waiters wait for; nothing new would wake them.
    if (this.checkpoint) this.release(this.checkpoint);
    // A fresh subscription from the checkpoint: what an earlier one delivered may never have been applied.
    this.delivered = this.checkpoint;
    this.scannedTo = undefined;
    const subscription = this.store.subscribeToAll({
      from: this.checkpoint ?? 'start',
      filter: this.projection.filter,
      idlePollMs: this.projection.idlePollMs,
      onScannedTo: (position) => {
        if (!this.scannedTo || comparePositions(position, this.scannedTo) > 0) this.scannedTo = position;
        this.releaseScanned();
      },
    });
    this.subscription = subscription;
    if (this.stopped) await subscription.close();
    const events = subscription[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<RecordedEvent>> | undefined;
    try {
      while (!this.stopped) {
        this.behindSince = undefined;
        const first = await (pending ?? events.next());
        pending = undefined;
        if (first.done) return;
        const batch = [first.value];
        this.delivered = first.value.position;
        this.behindSince = first.value.createdAt;
        while (batch.length < (this.projection.maxBatch ?? MAX_BATCH)) {
          pending = events.next();
          const next = await Promise.race([pending, nextTurn()]);
          if (next === NOTHING_READY) break;
          pending = undefined;
          if (next.done) break;
          batch.push(next.value);
          this.delivered = next.value.position;
        }
        await this.exclusively(() => this.isolation.apply(batch));
        this.releaseScanned();
      }
    } finally {
      await subscription.close();
    }
  }

  /** One transaction: the checkpoint to the last event, the events applied, those that cannot be decoded parked. */
  private async commit(events: readonly RecordedEvent[]): Promise<number> {
    const { envelopes, undecodable } = await this.decode(events);
    const last = events[events.length - 1]!.position;
    let appended: readonly AppendedEvents[] | void;
    try {
      appended = await this.dataSource.transaction(async (tx) => {
        // First, so that a replica racing for the same batch waits on the checkpoint row and yields
        // before applying anything, instead of colliding with the winner's rows.
        await advanceCheckpoint(tx, this.name, this.stored(), last);
        const appendedInBatch = await this.applyEnvelopes(envelopes, tx);
        await recordParked(tx, this.name, undecodable);
        // SET LOCAL holds for this transaction's commit alone; set last, once the batch is known.
        if (this.commitsAsynchronously(appendedInBatch)) await tx.query('SET LOCAL synchronous_commit = off');
        return appendedInBatch;
      });
    } catch (error) {
      this.projection.resumed?.();
      throw error;
    }
    this.projection.committed?.();
    if (appended && appended.length > 0) this.store.notifyCommitted?.(appended);
    this.passed(events, envelopes.length);
    this.reportParked(undecodable);
    return envelopes.length;
  }

  private commitsAsynchronously(appended: readonly AppendedEvents[] | void): boolean {
    const { asynchronousCommit } = this.projection;
    if (asynchronousCommit !== 'unless-appending') return asynchronousCommit === true;
    return !appended || appended.every((written) => written.types.length === 0);
  }

  private async park(event: EventToPark): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await advanceCheckpoint(tx, this.name, this.stored(), event.recorded.position);
      await recordParked(tx, this.name, [event]);
    });
    this.passed([event.recorded], 0);
    this.reportParked([event]);
  }

  private async applyEnvelopes(envelopes: readonly EventEnvelope[], tx: EntityManager): Promise<readonly AppendedEvents[] | void> {
    if (this.projection.applyBatch) return envelopes.length > 0 ? this.projection.applyBatch(envelopes, tx) : undefined;
    for (const envelope of envelopes) await this.projection.apply!(envelope, tx);
  }

  /** The checkpoint moved past `events` (applied or parked). */
  private passed(events: readonly RecordedEvent[], applied: number): void {
    const last = events[events.length - 1]!.position;
    this.checkpoint = last;
    const committedAt = Date.now();
    for (const recorded of events) {
      this.metrics?.lag.observe({ projection: this.name }, Math.max(0, committedAt - recorded.createdAt.getTime()) / 1000);
    }
    this.metrics?.applied.inc({ projection: this.name }, applied);
    this.release(last);
  }

  /** Counted and logged by kind, position and ids: never the event's content. */
  private reportParked(parked: readonly EventToPark[]): void {
    for (const { recorded, failure, attempts } of parked) {
      this.metrics?.parked.inc({ projection: this.name, reason: failure.kind });
      this.logger?.warn('projection parked an event', {
        projection: this.name,
        eventId: recorded.id,
        eventType: recorded.type,
        tenantId: tenantOf(recorded),
        streamName: recorded.streamName,
        position: positionToString(recorded.position),
        errorKind: failure.kind,
        reason: failure.reason,
        attempts,
      });
    }
  }

  /**
   * Decodes the events this projection understands. One that can never be decoded is parked
   * rather than failing the batch, which would replay the same batch forever and stall the read
   * model behind it; any other error fails the batch (see PoisonIsolation).
   */
  private async decode(events: readonly RecordedEvent[]): Promise<{ envelopes: EventEnvelope[]; undecodable: EventToPark[] }> {
    const envelopes: EventEnvelope[] = [];
    const undecodable: EventToPark[] = [];
    for (const recorded of events) {
      if (!this.codec.understands(recorded)) continue;
      try {
        envelopes.push(await this.codec.decode(recorded, { open: this.projection.openPersonalData !== false }));
      } catch (error) {
        const failure = classifyFailure(error);
        if (failure.kind !== 'undecodable') throw error;
        undecodable.push({ recorded, failure, attempts: 1 });
      }
    }
    return { envelopes, undecodable };
  }

  private async applyParked(parked: ParkedEventRef): Promise<RetryOutcome> {
    let applying = false;
    let epoch: { before: string; after: string } | undefined;
    let appended: readonly AppendedEvents[] | void;
    try {
      const recorded = await findRecorded(this.store, parked);
      if (!recorded) return await this.failedAgain(parked, MISSING);
      const envelope = await this.codec.decode(recorded, { open: this.projection.openPersonalData !== false });
      appended = await this.dataSource.transaction(async (tx) => {
        // As a SELECT: TypeORM answers a bare DELETE ... RETURNING with [rows, count].
        const removed: unknown[] = await tx.query(
          'WITH removed AS (DELETE FROM projection_parked_events WHERE id = $1 RETURNING id) SELECT id FROM removed',
          [parked.id],
        );
        if (removed.length === 0) throw new ParkedEventGone();
        epoch = await bumpEpoch(tx, this.name);
        applying = true;
        return this.applyEnvelopes([envelope], tx);
      });
    } catch (error) {
      if (applying) this.projection.resumed?.();
      if (error instanceof ParkedEventGone) return { outcome: 'gone' };
      return this.failedAgain(parked, classifyFailure(error));
    }
    // This runner's state saw the write; replicas of the projection find the epoch moved and start again.
    if (epoch?.before === this.epoch) this.epoch = epoch.after;
    this.projection.committed?.();
    if (appended && appended.length > 0) this.store.notifyCommitted?.(appended);
    return { outcome: 'applied' };
  }

  private async failedAgain(parked: ParkedEventRef, failure: ClassifiedFailure): Promise<RetryOutcome> {
    await noteFailedAttempt(this.dataSource, parked.id, failure);
    return { outcome: 'failed', failure };
  }

  private stored(): Checkpoint {
    return { position: this.checkpoint, epoch: this.epoch };
  }

  private exclusively<T>(work: () => Promise<T>): Promise<T> {
    const result = this.exclusive.then(work);
    this.exclusive = result.catch(() => undefined);
    return result;
  }

  /**
   * Waiters for a position the projection's filter passes over (an event of another service, say)
   * are released once the subscription has scanned past it and every event it delivered before
   * is applied: nothing the projection takes lies between. Not persisted: after a restart the
   * subscription scans again.
   */
  private releaseScanned(): void {
    if (!this.scannedTo) return;
    const everythingApplied = !this.delivered || (this.checkpoint !== undefined && comparePositions(this.checkpoint, this.delivered) >= 0);
    if (everythingApplied) this.release(this.scannedTo);
  }

  private release(reached: Position): void {
    for (const waiter of this.waiters) {
      if (comparePositions(reached, waiter.position) >= 0) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

const MISSING: ClassifiedFailure = { class: 'permanent', kind: 'missing', reason: 'the event is no longer in the event store' };

/** The parked row was removed (retried or dismissed) while this retry waited its turn. */
class ParkedEventGone extends Error {}

function nextTurn(): Promise<typeof NOTHING_READY> {
  return new Promise((resolve) => setImmediate(() => resolve(NOTHING_READY)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
