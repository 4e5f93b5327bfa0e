import type { Pool } from 'pg';
import type { EventToAppend } from '#eventstore';
import { ProblemError } from '#platform';
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

export const storeBusy = (detail: string) =>
  new ProblemError({ status: 503, type: 'ingest-overloaded', title: 'Tracking is overloaded', detail, headers: { 'Retry-After': '1' } });

/**
 * Group commit: submissions from many requests wait in a bounded queue and are stored together,
 * their messageIds claimed with them (see IngestLog). On the PostgreSQL event store the claims and
 * the events commit or roll back as one, so a retried message is either already there (dropped as
 * a duplicate) or not there at all: exactly once across crashes (EventStoreDB: see
 * EventStoreIngestLog for its at-least-once window).
 */
export class GroupCommit {
  private readonly queue: Submission[] = [];
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
    if (this.queuedEvents > 0 && this.queuedEvents + messages.length > this.settings.maxQueuedEvents) {
      return Promise.reject(storeBusy('too many events are waiting for the event store; retry shortly'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ tenantId, messages, resolve, reject });
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
    if (this.queue.length === 0 && this.freePartitions.length === this.settings.writers) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private pump(): void {
    while (this.queue.length > 0 && this.freePartitions.length > 0) {
      if (this.commitsInFlight > 0 && this.queuedEvents < this.settings.extraWriterMinEvents) return;
      const partition = this.freePartitions.shift()!;
      const batch = this.take();
      void this.commit(partition, batch).finally(() => {
        this.freePartitions.push(partition);
        this.pump();
        if (this.queue.length === 0 && this.freePartitions.length === this.settings.writers) {
          for (const resolve of this.idle) resolve();
          this.idle.clear();
        }
      });
    }
  }

  private take(): Submission[] {
    const batch: Submission[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && events + next.messages.length > this.settings.maxBatchEvents) break;
      this.queue.shift();
      events += next.messages.length;
      batch.push(next);
    }
    this.queuedEvents -= events;
    return batch;
  }

  private async commit(partition: number, batch: Submission[]): Promise<void> {
    try {
      const outcomes = await this.storeOnce(partition, batch);
      batch.forEach((submission, index) => submission.resolve(outcomes[index]!));
    } catch (error) {
      // Nothing of this commit is stored; the clients retry and the id table keeps that safe.
      const refusal = storeBusy('the event store did not accept the events; retry shortly');
      (refusal as { cause?: unknown }).cause = error;
      for (const submission of batch) submission.reject(refusal);
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
