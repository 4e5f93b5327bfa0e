import type { RecordedEvent } from '#eventstore';
import { classifyFailure, SystemicFailure, type ClassifiedFailure } from './projection-failures';
import type { ProjectionLogger } from './projection';
import { CheckpointMovedError, type EventToPark } from './projection-tables';

/** What the isolation drives: the runner's own transactions. */
export interface IsolationTarget {
  /**
   * Applies the events in one transaction that also moves the checkpoint to the last of them, and
   * answers how many the projection applied. On failure the transaction is rolled back (and the
   * projection told so) before the error is thrown.
   */
  commit(events: readonly RecordedEvent[]): Promise<number>;
  /** Moves the checkpoint past one event without applying it, recording it as parked, in one transaction. */
  park(event: EventToPark): Promise<void>;
}

export interface IsolationOptions {
  /** Applications of a batch that fails for a reason of its own before its culprit is looked for. */
  readonly attempts: number;
  /** Pause after the first failed application, doubled after each further one. */
  readonly backoffMs: number;
  /** Consecutive events parked for the same error beyond which it is taken for systemic. */
  readonly massParkingThreshold: number;
}

export const DEFAULT_ISOLATION: IsolationOptions = { attempts: 3, backoffMs: 100, massParkingThreshold: 10 };

/**
 * Applies a batch so that one event that cannot be applied never holds up the others. A failure
 * that may pass, or that is not the events' fault (see FailureClass), is thrown to the runner,
 * which retries from its checkpoint without limit. A failure of the events' own is retried a few
 * times, then the batch is bisected: each half is applied in a transaction of its own that moves
 * the checkpoint to the half's last event, and a half that fails is bisected again, until the
 * event that fails alone is parked. What comes before and after it is applied, in log order.
 *
 * Parking is for what is wrong with an event, not with the projection: when event after event
 * fails alone with the same error (say a constraint a migration got wrong), parking stops and
 * the runner backs off and retries, until an event applies again.
 */
export class PoisonIsolation {
  /** The error the last events parked in a row failed with, and how many; any event applied ends it. */
  private streak?: { key: string; count: number };

  constructor(
    private readonly projection: string,
    private readonly target: IsolationTarget,
    private readonly options: IsolationOptions,
    private readonly logger?: ProjectionLogger,
  ) {}

  async apply(batch: readonly RecordedEvent[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.applied(await this.target.commit(batch));
        return;
      } catch (error) {
        const failure = permanentOrThrow(error);
        if (attempt >= this.options.attempts) return this.isolate(batch, attempt, failure);
        await sleep(this.options.backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  /** `failedAttempts`: applications that failed with all of `events` in them. */
  private async isolate(events: readonly RecordedEvent[], failedAttempts: number, failure: ClassifiedFailure): Promise<void> {
    if (events.length === 1) return this.park({ recorded: events[0]!, failure, attempts: failedAttempts });
    const middle = Math.ceil(events.length / 2);
    for (const part of [events.slice(0, middle), events.slice(middle)]) {
      try {
        this.applied(await this.target.commit(part));
      } catch (error) {
        await this.isolate(part, failedAttempts + 1, permanentOrThrow(error));
      }
    }
  }

  private async park(event: EventToPark): Promise<void> {
    const key = `${event.failure.kind}\n${event.failure.reason}`;
    const streak = this.streak?.key === key ? this.streak.count : 0;
    if (streak >= this.options.massParkingThreshold) {
      this.logger?.warn('projection stopped parking: event after event fails alone with the same error, so the cause is not the events', {
        projection: this.projection,
        errorKind: event.failure.kind,
        reason: event.failure.reason,
        parkedInARow: streak,
      });
      throw new SystemicFailure(event.failure.kind, `${event.failure.reason} (${streak} events in a row parked for it; parking no more)`);
    }
    await this.target.park(event);
    this.streak = { key, count: streak + 1 };
  }

  private applied(events: number): void {
    if (events > 0) this.streak = undefined;
  }
}

function permanentOrThrow(error: unknown): ClassifiedFailure {
  if (error instanceof CheckpointMovedError) throw error;
  const failure = classifyFailure(error);
  if (failure.class !== 'permanent') throw error;
  return failure;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
