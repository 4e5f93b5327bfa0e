import type { DataSource, EntityManager } from 'typeorm';
import {
  comparePositions,
  type AllSubscription,
  type AppendedEvents,
  type EventFilter,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '#eventstore';
import { PersonalDataIntegrityError } from '#personal-data';
import type { EventCodec } from './event-codec';
import { UndecodableEventError, type EventEnvelope } from './event-envelope';
import type { ProjectionMetrics } from './projection-metrics';

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
   * they are replayed. Never for projections that append events or call out.
   */
  readonly asynchronousCommit?: boolean;
  /**
   * false: events come with their personal fields still sealed (`envelope.sealed`), for a
   * projection that needs them only for some events and opens those itself: opening costs a
   * decryption and a key lookup per event.
   */
  readonly openPersonalData?: boolean;
  /**
   * The runner (re)starts from the stored checkpoint, which another runner of the projection (a
   * replica) may have moved past events this one never saw: a projection that keeps what it
   * learnt from the log between batches must forget it here.
   */
  resumed?(): void;
  /**
   * The transaction of the batch just applied committed: what the projection learnt from it may be
   * kept from now on (a failed batch is followed by resumed() instead).
   */
  committed?(): void;
}

export interface ProjectionLogger {
  warn(message: string, fields?: object): void;
}

const MAX_BATCH = 500;
const NOTHING_READY = Symbol('nothing ready');

export const CHECKPOINTS_DDL = `
  CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection text PRIMARY KEY,
    commit_position bigint NOT NULL,
    prepare_position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`;

/**
 * Events a projection passed over because they cannot be decoded (see `undecodableReason`), one
 * row per projection and event, written in the transaction that moves the checkpoint past them.
 * `reason` is the decoder's own wording, never the event's content.
 */
export const SKIPPED_EVENTS_DDL = `
  CREATE TABLE IF NOT EXISTS projection_skipped_events (
    projection text NOT NULL,
    event_id text NOT NULL,
    stream_name text NOT NULL,
    commit_position bigint NOT NULL,
    prepare_position bigint NOT NULL,
    error text NOT NULL,
    reason text NOT NULL,
    skipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
  )`;

/**
 * Why an event can never be decoded by this reader, or undefined when the error may pass on a retry
 * (database or key store unreachable, an event from a newer version of the service, a bug). Only
 * errors whose messages are built without the event's content qualify, so the reason is safe to
 * store and log.
 */
export function undecodableReason(error: unknown): { error: string; reason: string } | undefined {
  if (error instanceof UndecodableEventError || error instanceof PersonalDataIntegrityError)
    return { error: error.name, reason: error.reason };
  return undefined;
}

interface SkippedEvent {
  readonly recorded: RecordedEvent;
  readonly error: string;
  readonly reason: string;
}

/**
 * Feeds one projection from a `$all` subscription. Each batch of events and the checkpoint after
 * it commit in one read-model transaction, so a crash anywhere replays exactly what was not
 * committed. Batches form naturally: whatever the subscription already holds when the previous
 * batch commits goes into the next one.
 */
export class ProjectionRunner {
  private subscription?: AllSubscription;
  private running?: Promise<void>;
  private stopped = false;
  private checkpoint?: Position;
  /** The last event the subscription handed over, and how far it has delivered everything it takes. */
  private delivered?: Position;
  private scannedTo?: Position;
  private behindSince?: Date;
  private readonly waiters = new Set<{ position: Position; resolve: () => void }>();

  constructor(
    private readonly projection: Projection,
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    private readonly dataSource: DataSource,
    private readonly metrics?: ProjectionMetrics,
    private readonly logger?: ProjectionLogger,
  ) {
    if (!projection.apply && !projection.applyBatch) throw new Error(`projection ${projection.name} has neither apply nor applyBatch`);
    metrics?.watch(projection.name, () => this.lagSeconds());
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
        this.logger?.warn('projection failed; restarting from its checkpoint', {
          projection: this.name,
          error: error instanceof Error ? error.message : String(error),
        });
        await sleep(Math.min(5000, 50 * 2 ** Math.min(failures, 7)));
      }
    }
  }

  private async consume(): Promise<void> {
    this.checkpoint = await this.loadCheckpoint();
    this.projection.resumed?.();
    // Another replica may have committed what our waiters wait for; nothing new would wake them.
    if (this.checkpoint) this.release(this.checkpoint);
    // A fresh subscription from the checkpoint: what an earlier one delivered may never have been applied.
    this.delivered = this.checkpoint;
    this.scannedTo = undefined;
    const subscription = this.store.subscribeToAll({
      from: this.checkpoint ?? 'start',
      filter: this.projection.filter,
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
        await this.applyBatch(batch);
      }
    } finally {
      await subscription.close();
    }
  }

  private async applyBatch(batch: RecordedEvent[]): Promise<void> {
    const { envelopes, skipped } = await this.decode(batch);
    const last = batch[batch.length - 1]!.position;
    const appended = await this.dataSource.transaction(async (tx) => {
      if (this.projection.asynchronousCommit) await tx.query('SET LOCAL synchronous_commit = off');
      // First, so that a replica racing for the same batch waits on the checkpoint row and yields
      // before applying anything, instead of colliding with the winner's rows.
      await this.advanceCheckpoint(tx, last);
      let appendedInBatch: readonly AppendedEvents[] | void = undefined;
      if (this.projection.applyBatch) {
        if (envelopes.length > 0) appendedInBatch = await this.projection.applyBatch(envelopes, tx);
      } else if (this.projection.apply) {
        for (const envelope of envelopes) await this.projection.apply(envelope, tx);
      }
      await this.recordSkipped(tx, skipped);
      return appendedInBatch;
    });
    this.checkpoint = last;
    this.projection.committed?.();
    if (appended && appended.length > 0) this.store.notifyCommitted?.(appended);
    for (const { recorded, error, reason } of skipped) {
      this.metrics?.skipped.inc({ projection: this.name, error });
      this.logger?.warn('projection skipped an event it cannot decode', {
        projection: this.name,
        eventId: recorded.id,
        streamName: recorded.streamName,
        position: `${recorded.position.commit}/${recorded.position.prepare}`,
        error,
        reason,
      });
    }
    const committedAt = Date.now();
    for (const recorded of batch) {
      this.metrics?.lag.observe({ projection: this.name }, Math.max(0, committedAt - recorded.createdAt.getTime()) / 1000);
    }
    this.metrics?.applied.inc({ projection: this.name }, batch.length);
    this.release(last);
    this.releaseScanned();
  }

  /**
   * Decodes the events this projection understands. One that can never be decoded is set aside
   * rather than failing the batch, which would replay the same batch forever and stall the read
   * model behind it; any other error fails the batch, to be retried from the checkpoint.
   */
  private async decode(batch: readonly RecordedEvent[]): Promise<{ envelopes: EventEnvelope[]; skipped: SkippedEvent[] }> {
    const envelopes: EventEnvelope[] = [];
    const skipped: SkippedEvent[] = [];
    for (const recorded of batch) {
      if (!this.codec.understands(recorded)) continue;
      try {
        envelopes.push(await this.codec.decode(recorded, { open: this.projection.openPersonalData !== false }));
      } catch (error) {
        const undecodable = undecodableReason(error);
        if (!undecodable) throw error;
        skipped.push({ recorded, ...undecodable });
      }
    }
    return { envelopes, skipped };
  }

  /** In the checkpoint's transaction, so a skip is recorded exactly when the checkpoint passes the event. */
  private async recordSkipped(tx: EntityManager, skipped: readonly SkippedEvent[]): Promise<void> {
    if (skipped.length === 0) return;
    await tx.query(
      `INSERT INTO projection_skipped_events (projection, event_id, stream_name, commit_position, prepare_position, error, reason)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
       ON CONFLICT (projection, event_id) DO NOTHING`,
      [
        this.name,
        skipped.map((s) => s.recorded.id),
        skipped.map((s) => s.recorded.streamName),
        skipped.map((s) => s.recorded.position.commit.toString()),
        skipped.map((s) => s.recorded.position.prepare.toString()),
        skipped.map((s) => s.error),
        skipped.map((s) => s.reason),
      ],
    );
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

  /**
   * Moves the checkpoint only from where this runner read it, and holds its row until the batch
   * commits. Two replicas running the same projection would otherwise both apply a batch; the
   * loser waits here for the winner's commit, finds the checkpoint moved, and resumes from it.
   */
  private async advanceCheckpoint(tx: EntityManager, to: Position): Promise<void> {
    const from = this.checkpoint;
    const rows: { moved: string }[] = from
      ? await tx.query(
          `WITH moved AS (
             UPDATE projection_checkpoints SET commit_position = $2, prepare_position = $3, updated_at = now()
             WHERE projection = $1 AND commit_position = $4 AND prepare_position = $5 RETURNING 1)
           SELECT count(*)::text AS moved FROM moved`,
          [this.name, to.commit.toString(), to.prepare.toString(), from.commit.toString(), from.prepare.toString()],
        )
      : await tx.query(
          `WITH moved AS (
             INSERT INTO projection_checkpoints (projection, commit_position, prepare_position)
             VALUES ($1, $2, $3) ON CONFLICT (projection) DO NOTHING RETURNING 1)
           SELECT count(*)::text AS moved FROM moved`,
          [this.name, to.commit.toString(), to.prepare.toString()],
        );
    if (rows[0]?.moved !== '1') throw new CheckpointMovedError(this.name);
  }

  private async loadCheckpoint(): Promise<Position | undefined> {
    const rows: { commit_position: string; prepare_position: string }[] = await this.dataSource.query(
      'SELECT commit_position, prepare_position FROM projection_checkpoints WHERE projection = $1',
      [this.name],
    );
    const row = rows[0];
    return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } : undefined;
  }
}

/** Another runner of the same projection committed first; resume from its checkpoint. */
export class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
  constructor(projection: string) {
    super(`checkpoint of projection ${projection} was moved by another runner`);
  }
}

function nextTurn(): Promise<typeof NOTHING_READY> {
  return new Promise((resolve) => setImmediate(() => resolve(NOTHING_READY)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
