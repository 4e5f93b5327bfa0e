import type { Pool } from 'pg';
import type { EventToAppend } from '#eventstore';
import { ProblemError, tenantRateLimited } from '#platform';
import { claimKey, type ClaimedMessage, type IngestLog } from './ingest-log';
import { trackingStreamFor } from '#contracts';

/** A message encoded for the store, with the id Segment dedups on. */
export interface EncodedMessage {
  readonly messageId: string;
  readonly event: EventToAppend;
}

export interface IngestOutcome {
  readonly stored: number;
  readonly duplicates: number;
}

export interface GroupCommitSettings {
  /** Beyond this many waiting events new submissions are refused (back-pressure, bounded memory). */
  readonly maxQueuedEvents: number;
  /** One commit appends at most this many events (a single submission may exceed it). */
  readonly maxBatchEvents: number;
  /** Commits in flight at once; each owns one partition stream per tenant. */
  readonly writers: number;
  /**
   * A commit beyond the first in flight starts only when at least this many events wait: fewer
   * ride the next commit instead. Each commit pays a statement and a WAL flush, so many small
   * concurrent commits (single calls) cost more than they save; large ones (batches) overlap.
   */
  readonly extraWriterMinEvents: number;
}

interface Submission {
  readonly tenantId: string;
  readonly messages: readonly EncodedMessage[];
  resolve(outcome: IngestOutcome): void;
  reject(error: unknown): void;
}

/** One tenant's submissions waiting, in arrival order, and how many events they hold. */
interface TenantQueue {
  readonly submissions: Submission[];
  events: number;
}

export const storeBusy = (detail: string) =>
  new ProblemError({ status: 503, type: 'ingest-overloaded', title: 'Tracking is overloaded', detail, headers: { 'Retry-After': '1' } });

const overShare = () =>
  tenantRateLimited(1000, 'this tenant has more events waiting for the event store than its share of the queue; retry shortly');

/**
 * The store refused a request's values for good (they passed validation, yet a constraint or a
 * cast failed). Retrying would fail again, so this is not a 5xx; nothing of the request is echoed.
 */
const refusedByStore = (cause: unknown) =>
  new ProblemError({
    status: 422,
    type: 'refused-by-store',
    title: 'The event store refused the events',
    detail: 'the event store cannot hold a value of this request; nothing of it was stored',
    cause,
  });

/**
 * Whether a failed commit would fail again as it is: a data exception (SQLSTATE class 22: a cast,
 * an encoding) or an integrity violation (23: a constraint) is caused by what the events hold.
 * Connection failures (08), serialization failures and deadlocks (40), lack of resources (53), an
 * operator's intervention (57) and anything unknown are the store's, and pass: 503, retry.
 */
export function isPermanentStoreError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && (code.startsWith('22') || code.startsWith('23'));
}

/** What a log line may say of a refused commit: PostgreSQL's messages quote the values, so only names. */
function storeFailureOf(error: unknown): Record<string, unknown> {
  const { code, constraint, table, column, routine } = error as Record<string, unknown>;
  return { sqlState: code, constraint, table, column, routine };
}

/**
 * Group commit: submissions from many requests wait in a bounded queue and are stored together,
 * their messageIds claimed with them (see IngestLog). On the PostgreSQL event store the claims and
 * the events commit or roll back as one, so a retried message is either already there (dropped as
 * a duplicate) or not there at all: exactly once across crashes (EventStoreDB: see
 * EventStoreIngestLog for its at-least-once window).
 *
 * Tenants share it fairly: a commit takes submissions round-robin per tenant (FIFO within one), and
 * once the queue is half full a tenant may hold no more than its share of it (429), so one
 * tenant's flood leaves room and turns for the others. A commit the store refuses for good is
 * split in halves until the one request it refuses is found; the others are stored.
 */
export class GroupCommit {
  /** Waiting submissions per tenant; the map's order is the round-robin order. */
  private readonly queues = new Map<string, TenantQueue>();
  private queuedEvents = 0;
  private readonly freePartitions: number[];
  private closed = false;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    private readonly log: IngestLog,
    private readonly settings: GroupCommitSettings,
  ) {
    this.freePartitions = Array.from({ length: settings.writers }, (_, index) => index);
  }

  /** Resolves once the messages are durably in the event store (or known duplicates). */
  submit(tenantId: string, messages: readonly EncodedMessage[]): Promise<IngestOutcome> {
    if (this.closed) return Promise.reject(storeBusy('the service is shutting down'));
    if (messages.length === 0) return Promise.resolve({ stored: 0, duplicates: 0 });
    const { maxQueuedEvents } = this.settings;
    const waiting = this.queuedEvents + messages.length;
    if (this.queuedEvents > 0 && waiting > maxQueuedEvents) {
      return Promise.reject(storeBusy('too many events are waiting for the event store; retry shortly'));
    }
    let queue = this.queues.get(tenantId);
    // Half full, the queue is shared: each waiting tenant gets an equal part, and one part stays
    // free for a tenant that has nothing waiting yet (it always gets in while the queue has room).
    if (queue && waiting > maxQueuedEvents / 2 && queue.events + messages.length > maxQueuedEvents / (this.queues.size + 1)) {
      return Promise.reject(overShare());
    }
    return new Promise((resolve, reject) => {
      if (!queue) this.queues.set(tenantId, (queue = { submissions: [], events: 0 }));
      queue.submissions.push({ tenantId, messages, resolve, reject });
      queue.events += messages.length;
      this.queuedEvents += messages.length;
      this.pump();
    });
  }

  get waitingEvents(): number {
    return this.queuedEvents;
  }

  get commitsInFlight(): number {
    return this.settings.writers - this.freePartitions.length;
  }

  /** Stops taking submissions and resolves once everything queued is committed. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.queues.size === 0 && this.freePartitions.length === this.settings.writers) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private pump(): void {
    while (this.queues.size > 0 && this.freePartitions.length > 0) {
      if (this.commitsInFlight > 0 && this.queuedEvents < this.settings.extraWriterMinEvents) return;
      const partition = this.freePartitions.shift()!;
      const batch = this.take();
      void this.commit(partition, batch).finally(() => {
        this.freePartitions.push(partition);
        this.pump();
        if (this.queues.size === 0 && this.freePartitions.length === this.settings.writers) {
          for (const resolve of this.idle) resolve();
          this.idle.clear();
        }
      });
    }
  }

  /** One submission from each tenant in turn, each tenant's in arrival order, up to a commit's size. */
  private take(): Submission[] {
    const batch: Submission[] = [];
    let events = 0;
    for (const [tenantId, queue] of this.queues) {
      const next = queue.submissions[0]!;
      if (batch.length > 0 && events + next.messages.length > this.settings.maxBatchEvents) break;
      queue.submissions.shift();
      queue.events -= next.messages.length;
      events += next.messages.length;
      batch.push(next);
      // Served: to the back of the round (a Map iterates entries added while it runs, so the
      // tenant comes round again in this same take when the others have nothing more).
      this.queues.delete(tenantId);
      if (queue.submissions.length > 0) this.queues.set(tenantId, queue);
    }
    this.queuedEvents -= events;
    return batch;
  }

  /**
   * Stores the batch. Refused for good, the batch is stored in halves, down to the one submission
   * the store refuses (422): a bad request costs its neighbours a few more statements, not a 503.
   * Any other failure stores nothing of this commit; the clients retry, and the id table keeps that safe.
   */
  private async commit(partition: number, batch: Submission[]): Promise<void> {
    try {
      const outcomes = await this.storeOnce(partition, batch);
      batch.forEach((submission, index) => submission.resolve(outcomes[index]!));
    } catch (error) {
      if (!isPermanentStoreError(error)) {
        const refusal = storeBusy('the event store did not accept the events; retry shortly');
        (refusal as { cause?: unknown }).cause = error;
        for (const submission of batch) submission.reject(refusal);
      } else if (batch.length === 1) {
        batch[0]!.reject(refusedByStore(storeFailureOf(error)));
      } else {
        const half = Math.ceil(batch.length / 2);
        await this.commit(partition, batch.slice(0, half));
        await this.commit(partition, batch.slice(half));
      }
    }
  }

  private async storeOnce(partition: number, batch: Submission[]): Promise<IngestOutcome[]> {
    // The first copy of an id wins, also when one commit carries it twice.
    const candidates = new Map<string, ClaimedMessage>();
    for (const { tenantId, messages } of batch) {
      for (const { messageId, event } of messages) {
        const key = claimKey(tenantId, messageId);
        if (!candidates.has(key)) candidates.set(key, { tenantId, messageId, streamName: trackingStreamFor(tenantId, partition), event });
      }
    }
    const fresh = await this.log.store(this.pool, [...candidates.values()]);
    return batch.map(({ tenantId, messages }) => {
      const stored = messages.filter((message) => fresh.delete(claimKey(tenantId, message.messageId))).length;
      return { stored, duplicates: messages.length - stored };
    });
  }
}
