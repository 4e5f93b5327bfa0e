import type { Position, RecordedEvent } from '../../../../libs/eventstore/src/event-store';
import type { EarningSource } from './tracked-events.contract';

export type Earning = EarningSource & { readonly recorded: RecordedEvent };

interface Entry {
  readonly recorded: RecordedEvent;
  done: boolean;
}

/**
 * Earning without batch barriers: each member's events queue behind each other, up to
 * `concurrency` members are worked on at once, and whatever queued for a member while its last
 * append was in flight goes into its next append. The checkpoint follows the longest prefix of
 * events whose effects are committed, so a crash replays only events after it (and the wallets'
 * source ids make those replays harmless).
 */
export class EarningPipeline {
  private readonly entries: Entry[] = [];
  private head = 0;
  private outstanding = 0;
  private readonly queues = new Map<string, Earning[]>();
  private readonly entryOf = new Map<Earning, Entry>();
  private readonly ready: string[] = [];
  private readonly active = new Set<string>();
  private flushing = false;
  private flushRun: Promise<void> = Promise.resolve();
  private flushAgain = false;
  private waiters: (() => void)[] = [];
  failure?: unknown;

  constructor(
    private readonly work: (earnings: readonly Earning[]) => Promise<void>,
    private readonly commit: (upTo: Position, events: readonly RecordedEvent[]) => Promise<void>,
    private readonly onFailure: (error: unknown) => void,
    private readonly concurrency: number,
  ) {}

  /** Events not yet covered by the checkpoint. */
  get pending(): number {
    return this.entries.length - this.head;
  }

  /** The oldest event whose effect is not yet checkpointed, for the lag metric. */
  get oldest(): RecordedEvent | undefined {
    return this.entries[this.head]?.recorded;
  }

  /** Queues an event; one that earns nothing only moves the checkpoint. */
  add(recorded: RecordedEvent, earning?: Earning): void {
    const entry: Entry = { recorded, done: earning === undefined };
    this.entries.push(entry);
    if (!earning) {
      this.scheduleFlush();
      return;
    }
    this.outstanding++;
    this.entryOf.set(earning, entry);
    const key = `${earning.tenantId}.${earning.userId}`;
    const queue = this.queues.get(key);
    if (queue) queue.push(earning);
    else {
      this.queues.set(key, [earning]);
      if (!this.active.has(key)) this.ready.push(key);
    }
    this.startMore();
  }

  /** Resolves when no more than `limit` events are unfinished (the reader's back-pressure). */
  async atMost(limit: number): Promise<void> {
    while (this.outstanding > limit && this.failure === undefined) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Waits for the work in flight and the checkpoint after it (or the first failure). */
  async drain(): Promise<void> {
    await this.atMost(0);
    await this.flushRun;
  }

  private startMore(): void {
    while (this.active.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.active.add(key);
      void this.runMember(key).catch((error: unknown) => this.fail(error));
    }
  }

  private async runMember(key: string): Promise<void> {
    for (let earnings = this.queues.get(key); earnings && this.failure === undefined; earnings = this.queues.get(key)) {
      this.queues.delete(key);
      await this.work(earnings);
      for (const earning of earnings) {
        this.entryOf.get(earning)!.done = true;
        this.entryOf.delete(earning);
      }
      this.outstanding -= earnings.length;
      this.scheduleFlush();
      this.wakeWaiters();
    }
    this.active.delete(key);
    this.startMore();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private scheduleFlush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    this.flushRun = this.flush();
  }

  private async flush(): Promise<void> {
    try {
      do {
        this.flushAgain = false;
        const committed: RecordedEvent[] = [];
        while (this.head < this.entries.length && this.entries[this.head]!.done) committed.push(this.entries[this.head++]!.recorded);
        if (this.head > 10_000) {
          this.entries.splice(0, this.head);
          this.head = 0;
        }
        if (committed.length > 0 && this.failure === undefined) await this.commit(committed[committed.length - 1]!.position, committed);
      } while (this.flushAgain && this.failure === undefined);
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = false;
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.wakeWaiters();
    this.onFailure(error);
  }
}
