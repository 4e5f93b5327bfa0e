import type { DataSource } from 'typeorm';
import {
  comparePositions,
  type AllSubscription,
  type EventStore,
  type JsonObject,
  type Position,
  type RecordedEvent,
} from '../../../../libs/eventstore/src/event-store';
import type { PersonalDataSealer } from '../../../../libs/cqrs/src/event-codec';
import type { ProgramDefinition } from '../program/program.events';
import type { ProgramHandler } from '../program/program.handler';
import { MEMBER_ID } from '../rewards.ports';
import { PROGRAM_STREAM_PREFIX } from '../rewards.streams';
import type { WalletHandler } from '../wallet/wallet.handler';
import { EarningPipeline, type Earning } from './earning.pipeline';
import { earningSourceOf, SOURCE_STREAM_PREFIXES, TRACK_RECORDED, USER_REGISTERED } from './tracked-events.contract';

/** Events read ahead of the checkpoint before the reader waits for the wallets to catch up. */
const MAX_UNFINISHED = 5000;
/** Wallets worked on at once; below the event store's pool so appends do not queue for a connection. */
const CONCURRENCY = 18;

export interface EarningLogger {
  warn(message: string, fields?: object): void;
}

/**
 * Turns tracked events and sign-ups into wallet changes. The subscription is checkpointed after
 * each batch, so a crash replays at most the batch in flight; the replay (or a second replica, or
 * a rebuild from the start) earns nothing twice because every PointsEarned carries its source id
 * and the wallet refuses a source it has seen. Within a batch, one member's events run in order
 * and different members' run in parallel.
 */
export class EarningProcessor {
  readonly name = 'rewards.earning';
  private subscription?: AllSubscription;
  private running?: Promise<void>;
  private stopped = false;
  private checkpoint?: Position;
  private behindSince?: Date;
  private readonly programs = new Map<string, ProgramDefinition | undefined>();
  private readonly waiters = new Set<{ position: Position; resolve: () => void }>();
  /** Called when the checkpoint passes events (bench: lag per event). */
  readonly batchListeners: ((events: readonly RecordedEvent[], committedAtMs: number) => void)[] = [];
  /** Called when events' wallet changes are appended, before the checkpoint covers them. */
  readonly effectListeners: ((events: readonly RecordedEvent[]) => void)[] = [];

  constructor(
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly wallets: WalletHandler,
    private readonly programBook: ProgramHandler,
    private readonly personalData: Pick<PersonalDataSealer, 'open'>,
    private readonly logger?: EarningLogger,
  ) {}

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

  lagSeconds(now = new Date()): number {
    return this.behindSince ? Math.max(0, (now.getTime() - this.behindSince.getTime()) / 1000) : 0;
  }

  /** Resolves once the event at `position` has had its effect. */
  waitFor(position: Position, timeoutMs = 10_000): Promise<void> {
    if (this.checkpoint && comparePositions(this.checkpoint, position) >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name} did not reach the position within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = { position, resolve: () => (clearTimeout(timer), resolve()) };
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
        this.logger?.warn('earning failed; resuming from its checkpoint', { error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 50 * 2 ** Math.min(failures, 7))));
      }
    }
  }

  private async consume(): Promise<void> {
    this.checkpoint = await this.loadCheckpoint();
    if (this.checkpoint) this.release(this.checkpoint);
    // Programs may have changed while this runner was away; read them afresh.
    this.programs.clear();
    const subscription = this.store.subscribeToAll({
      from: this.checkpoint ?? 'start',
      filter: { streamNamePrefixes: [...SOURCE_STREAM_PREFIXES, PROGRAM_STREAM_PREFIX], eventTypePrefixes: [TRACK_RECORDED, USER_REGISTERED, 'ProgramPublished'] },
    });
    this.subscription = subscription;
    const pipeline: EarningPipeline = new EarningPipeline(
      (earnings) => this.earn(earnings),
      (upTo, events) => this.committed(pipeline, upTo, events),
      // Ends the iteration below, which then rethrows the failure.
      () => void subscription.close(),
      CONCURRENCY,
    );
    if (this.stopped) await subscription.close();
    try {
      for await (const recorded of subscription) {
        this.behindSince ??= recorded.createdAt;
        if (recorded.streamName.startsWith(PROGRAM_STREAM_PREFIX)) {
          // Events before a new program version earn under the old one.
          await pipeline.atMost(0);
          this.programs.delete(String(recorded.metadata.tenantId));
          pipeline.add(recorded);
          continue;
        }
        const data = '$personal' in recorded.data ? (await this.personalData.open(String(recorded.metadata.tenantId), recorded.data)).data : recorded.data;
        const source = earningSourceOf(recorded, data as JsonObject);
        pipeline.add(recorded, source && MEMBER_ID.test(source.userId) ? { ...source, recorded } : undefined);
        await pipeline.atMost(MAX_UNFINISHED);
        if (pipeline.failure !== undefined) break;
      }
      if (pipeline.failure !== undefined) throw pipeline.failure;
    } finally {
      await subscription.close();
      // On stop, let the appends in flight finish and their checkpoint commit before the store closes.
      await pipeline.drain();
    }
  }

  private async committed(pipeline: EarningPipeline, upTo: Position, events: readonly RecordedEvent[]): Promise<void> {
    await this.advanceCheckpoint(upTo);
    this.checkpoint = upTo;
    this.behindSince = pipeline.oldest?.createdAt;
    const committedAt = Date.now();
    for (const listener of this.batchListeners) listener(events, committedAt);
    this.release(upTo);
  }

  /** One member's events of the batch, in order, in one append. */
  private async earn(earnings: readonly Earning[]): Promise<void> {
    const { tenantId, userId } = earnings[0]!;
    const program = await this.program(tenantId);
    await this.wallets.handleAll(
      tenantId,
      userId,
      earnings.map(({ source, recorded }) => ({
        command: { type: 'Earn' as const, userId, source, program, now: recorded.createdAt },
        context: {
          tenantId,
          correlationId: typeof recorded.metadata.correlationId === 'string' ? recorded.metadata.correlationId : recorded.id,
          causationId: recorded.id,
          now: recorded.createdAt,
        },
      })),
    );
    for (const listener of this.effectListeners) listener(earnings.map((earning) => earning.recorded));
  }

  private async program(tenantId: string): Promise<ProgramDefinition | undefined> {
    if (!this.programs.has(tenantId)) this.programs.set(tenantId, (await this.programBook.current(tenantId)).program);
    return this.programs.get(tenantId);
  }

  private release(reached: Position): void {
    for (const waiter of this.waiters) {
      if (comparePositions(reached, waiter.position) >= 0) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Moves the checkpoint only from where this runner read it; another replica's move restarts this one. */
  private async advanceCheckpoint(to: Position): Promise<void> {
    const from = this.checkpoint;
    const rows: { moved: number }[] = from
      ? await this.dataSource.query(
          `WITH moved AS (UPDATE projection_checkpoints SET commit_position = $2, prepare_position = $3, updated_at = now()
             WHERE projection = $1 AND commit_position = $4 AND prepare_position = $5 RETURNING 1)
           SELECT count(*)::int AS moved FROM moved`,
          [this.name, to.commit.toString(), to.prepare.toString(), from.commit.toString(), from.prepare.toString()],
        )
      : await this.dataSource.query(
          `WITH moved AS (INSERT INTO projection_checkpoints (projection, commit_position, prepare_position) VALUES ($1, $2, $3)
             ON CONFLICT (projection) DO NOTHING RETURNING 1)
           SELECT count(*)::int AS moved FROM moved`,
          [this.name, to.commit.toString(), to.prepare.toString()],
        );
    if (rows[0]?.moved !== 1) throw new CheckpointMovedError();
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

/** Another replica committed a batch first; resume from its checkpoint (its effects dedupe ours). */
class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
}
