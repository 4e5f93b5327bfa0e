import type { ClientBase } from 'pg';
import type { EntityManager } from 'typeorm';
import {
  refusedStreams,
  WrongExpectedRevisionError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type Position,
  type StreamAppend,
  type TransactionalEventStore,
} from '#eventstore';
import { decideUntilStored, settledState, type Appendable, type AppendRound, type LoopSteps, type StreamDecision } from './command-loop';
import { conflictDelayMs, DEFAULT_CONFLICT_RETRY, type ConflictRetry } from './conflict-retry';
import type { Decider } from './decider';
import type { CommandContext, EventEnvelope } from './event-envelope';
import type { EventCodec } from './event-codec';
import type { DomainEvent } from './event-types';
import { StreamStateCache, type CachedState } from './stream-state-cache';
import { inParallel, StreamReader, type Evolving, type Known } from './stream-reader';

export interface CommandRunnerOptions {
  /** Conflict retries: how many by default (a command may say otherwise), and the backoff between them. */
  readonly retry?: Partial<ConflictRetry>;
  /**
   * Keep the folded state of up to this many streams in memory and let the commands and reads of
   * one stream take turns in this process (see StreamStateCache). Without it every command reads.
   */
  readonly cachedStreams?: number;
  /** Pass over event types this service does not know when folding, instead of failing. */
  readonly passOverUnknownEvents?: boolean;
  /** The jitter's source, in [0, 1). */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface StreamCommand<Command, Event extends DomainEvent, State, Rejection> {
  readonly streamName: string;
  readonly decider: Decider<Command, Event, State, Rejection>;
  /** The command, or how to build it from the current state (when it needs facts from elsewhere). */
  readonly command: Command | ((state: State) => Promise<Command>);
  readonly context: CommandContext;
  /**
   * How many times to decide and append again after a concurrent writer won the race (the
   * runner's default otherwise). Only for commands whose decision is safe to re-take on newer
   * state; 0 surfaces the conflict.
   */
  readonly retriesOnConflict?: number;
  /**
   * The stream almost certainly does not exist yet (a fresh id, a first claim): decide on the
   * initial state and append expecting no stream, skipping the read. If the stream does exist the
   * append fails and the command is handled the usual way, so the hint costs nothing in correctness.
   */
  readonly expectNewStream?: boolean;
  /**
   * Stores an accepted decision in a write of the caller's instead of a plain append, so that what
   * the caller records beside it (a sign-in with the code it used) commits with it or not at all.
   * Given the decided events and their append, at the revision they were decided on, it stores
   * that append guarded by that revision: a WrongExpectedRevisionError when it no longer holds,
   * and the command is decided again on what the winner wrote, and this called again. Undefined
   * from it: the events are appended as usual.
   */
  readonly storeWith?: (decided: { readonly events: readonly Event[]; readonly append: StreamAppend }) => Promise<AppendResult | undefined>;
}

export type CommandOutcome<Event, Rejection> =
  | {
      readonly accepted: true;
      readonly events: readonly Event[];
      readonly nextExpectedRevision: bigint;
      /** Global position of the last event appended; absent when the decision appended nothing. */
      readonly position?: Position;
    }
  | { readonly accepted: false; readonly rejection: Rejection };

type Accepted<Event> = Extract<CommandOutcome<Event, never>, { accepted: true }>;

/** One stream's commands in a batch, in the order they are to be decided. */
export interface StreamWork<Command> {
  readonly streamName: string;
  readonly commands: readonly { readonly command: Command; readonly context: CommandContext }[];
}

/** What a batch appended to one stream. */
export interface StreamChange<Work, Event> {
  readonly work: Work;
  readonly events: readonly Event[];
}

export interface BatchRequest<Command, Event extends DomainEvent, State, Rejection, Work extends StreamWork<Command>> {
  readonly decider: Decider<Command, Event, State, Rejection>;
  /** At most one entry per stream. */
  readonly work: readonly Work[];
  /**
   * The caller's open read-model transaction. On a store that can (`transactional`) every stream's
   * events are appended inside it in one statement, and commit or vanish with it; elsewhere each
   * stream is appended on its own, at once.
   */
  readonly transaction?: EntityManager;
  readonly retriesOnConflict?: number;
}

/** The PostgreSQL connection a TypeORM transaction runs on (undefined for another driver). */
export function transactionClientOf(tx: EntityManager): ClientBase | undefined {
  return (tx.queryRunner as unknown as { databaseConnection?: ClientBase } | undefined)?.databaseConnection;
}

/** Streams appended at once when a batch appends stream by stream. */
const APPEND_CONCURRENCY = 16;

/**
 * The one place that touches the store for a command: read the stream (or take its state from
 * the cache), fold it with `evolve`, `decide`, and append with the revision decided on, so a
 * concurrent writer makes the append fail rather than silently interleave; then decide again on
 * what the winner wrote (see decideUntilStored). The same loop serves one command on one stream
 * (`handle`) and a batch of commands on many (`handleBatch`).
 */
export class CommandRunner {
  private readonly reader: StreamReader;
  private readonly cache?: StreamStateCache;
  private readonly retry: ConflictRetry;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    options: CommandRunnerOptions = {},
  ) {
    this.reader = new StreamReader(store, codec, options.passOverUnknownEvents ?? false);
    if (options.cachedStreams !== undefined) this.cache = new StreamStateCache(options.cachedStreams);
    this.retry = { ...DEFAULT_CONFLICT_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async handle<Command, Event extends DomainEvent, State, Rejection>(
    request: StreamCommand<Command, Event, State, Rejection>,
  ): Promise<CommandOutcome<Event, Rejection>> {
    const { streamName, decider } = request;
    const cache = this.cache;
    if (!cache) {
      const known = request.expectNewStream ? hinted(decider) : await this.reader.whole(streamName, decider);
      return (await this.decideOne(request, known)).outcome;
    }
    return cache.inTurn(streamName, async () => {
      const cached = cache.peek(streamName);
      const known = cached
        ? remembered<State>(cached)
        : request.expectNewStream
          ? hinted(decider)
          : await this.reader.whole(streamName, decider);
      const { outcome, decided, result } = await this.decideOne(request, known);
      cache.remember(streamName, stateAfter(decider, decided, result));
      return outcome;
    });
  }

  /**
   * Decides every stream's commands in order and appends what was decided, set-based: the states
   * come from the cache or from one read of every stream the cache lacks, and the appends go in
   * one statement inside `transaction` where the store can. A rejected command appends nothing
   * and the stream's next command is decided as if it had not come. Answers the streams that changed.
   */
  async handleBatch<Command, Event extends DomainEvent, State, Rejection, Work extends StreamWork<Command>>(
    request: BatchRequest<Command, Event, State, Rejection, Work>,
  ): Promise<StreamChange<Work, Event>[]> {
    const { decider, work, transaction } = request;
    if (work.length === 0) return [];
    const names = work.map((each) => each.streamName);
    if (new Set(names).size !== names.length) throw new Error('handleBatch: each stream may appear once');
    const taken = this.cache?.take(names) ?? new Map<string, CachedState>();
    const read = await this.reader.many(
      names.filter((name) => !taken.has(name)),
      decider,
    );
    const client = transaction && this.store.transactional ? transactionClientOf(transaction) : undefined;
    const within = client && this.store.transactional;
    const { decided, stored } = await decideUntilStored(
      work.map((each) => ({
        streamName: each.streamName,
        commands: each.commands,
        known: read.get(each.streamName) ?? remembered<State>(taken.get(each.streamName)!),
      })),
      this.steps(
        decider,
        request.retriesOnConflict,
        within ? (appending) => this.appendWithin(within, client, appending) : (appending) => this.appendEach(appending),
      ),
    );
    if (this.cache) {
      const settled = new Map(decided.map((each) => [each.streamName, stateAfter(decider, each, stored.get(each.streamName))]));
      if (within && transaction) this.cache.rememberOnCommit(transaction, settled);
      else for (const [name, entry] of settled) this.cache.remember(name, entry);
    }
    const byStream = new Map(work.map((each) => [each.streamName, each]));
    return decided.filter((each) => each.events.length > 0).map((each) => ({ work: byStream.get(each.streamName)!, events: each.events }));
  }

  /**
   * Two commands that each start a new stream (a claim and the thing it claims for), decided on
   * their initial states and appended together, all or nothing, in one round trip. Undefined when
   * that is not possible: the store cannot create streams together, a decision is refused or
   * appends nothing, or a stream already exists. Nothing is stored then, and the caller handles
   * the commands one by one as usual.
   */
  async startTogether<C1, E1 extends DomainEvent, S1, R1, C2, E2 extends DomainEvent, S2, R2>(
    first: StreamCommand<C1, E1, S1, R1> & { readonly command: C1 },
    second: StreamCommand<C2, E2, S2, R2> & { readonly command: C2 },
  ): Promise<[Accepted<E1>, Accepted<E2>] | undefined> {
    if (!this.store.startStreams) return undefined;
    const firstDecision = first.decider.decide(first.command, first.decider.initialState());
    const secondDecision = second.decider.decide(second.command, second.decider.initialState());
    if (!firstDecision.accepted || !secondDecision.accepted || firstDecision.events.length === 0 || secondDecision.events.length === 0)
      return undefined;
    const [firstEvents, secondEvents] = await Promise.all([
      this.codec.encodeAll(firstDecision.events, first.context),
      this.codec.encodeAll(secondDecision.events, second.context),
    ]);
    try {
      const [firstResult, secondResult] = await this.store.startStreams([
        { streamName: first.streamName, events: firstEvents },
        { streamName: second.streamName, events: secondEvents },
      ]);
      return [
        {
          accepted: true,
          events: firstDecision.events,
          nextExpectedRevision: firstResult!.nextExpectedRevision,
          position: firstResult!.position,
        },
        {
          accepted: true,
          events: secondDecision.events,
          nextExpectedRevision: secondResult!.nextExpectedRevision,
          position: secondResult!.position,
        },
      ];
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) return undefined;
      throw error;
    }
  }

  /**
   * Current state of a stream: read and folded, or through the cache, whose tail is then always
   * read. `current`: the stream's revision the store answered moments ago, in a read of the
   * caller's (-1n: no stream); a cached state at least that far on, or the initial state of a
   * stream that did not exist, then needs no read. The answer is the store's as of that read.
   */
  async load<Event extends DomainEvent, State>(
    streamName: string,
    decider: Evolving<Event, State>,
    current?: bigint,
  ): Promise<{ state: State; revision: bigint }> {
    const noStream = () => ({ state: decider.initialState(), revision: -1n });
    const cache = this.cache;
    if (!cache) {
      if (current === -1n) return noStream();
      const { state, revision } = await this.reader.whole(streamName, decider);
      return { state, revision };
    }
    return cache.inTurn(streamName, async () => {
      const cached = cache.peek(streamName);
      if (!cached && current === -1n) return noStream();
      if (cached && current !== undefined && cached.revision >= current) return { state: cached.state as State, revision: cached.revision };
      const { state, revision } = cached
        ? (await this.reader.tail(streamName, decider, remembered<State>(cached))).known
        : await this.reader.whole(streamName, decider);
      cache.remember(streamName, { state, revision });
      return { state, revision };
    });
  }

  /**
   * A stream's state for a command about to be handled on it: the cached state as it stands, with
   * no read, when there is one (`fresh` false); read otherwise. A stale state cannot settle
   * anything: the command's append, guarded by the revision it was decided on, fails when another
   * process wrote since, and a rejection decided on a cached state is checked against the store.
   * So this serves only what that command will settle (say, which key to verify a signature
   * with), never an answer that stands on its own: that takes `load`.
   */
  async stateForCommand<Event extends DomainEvent, State>(
    streamName: string,
    decider: Evolving<Event, State>,
  ): Promise<{ state: State; revision: bigint; fresh: boolean }> {
    const cache = this.cache;
    const cached = cache ? await cache.inTurn(streamName, async () => cache.peek(streamName)) : undefined;
    if (cached) return { state: cached.state as State, revision: cached.revision, fresh: false };
    return { ...(await this.load(streamName, decider)), fresh: true };
  }

  /** The whole stream from the store, folded, with every event decoded (an export of all that is held). */
  async history<Event extends DomainEvent, State>(
    streamName: string,
    decider: Evolving<Event, State>,
  ): Promise<{ state: State; revision: bigint; envelopes: EventEnvelope<Event>[] }> {
    const { state, revision, envelopes } = await this.reader.whole(streamName, decider);
    return { state, revision, envelopes };
  }

  private async decideOne<Command, Event extends DomainEvent, State, Rejection>(
    request: StreamCommand<Command, Event, State, Rejection>,
    known: Known<State>,
  ): Promise<{
    outcome: CommandOutcome<Event, Rejection>;
    decided: StreamDecision<Command, Event, State, Rejection>;
    result?: AppendResult;
  }> {
    const { streamName, decider, command, context } = request;
    const { decided, stored } = await decideUntilStored(
      [{ streamName, commands: [{ command, context }], known }],
      this.steps(decider, request.retriesOnConflict, (appending) =>
        request.storeWith ? this.storeThrough(request.storeWith, appending) : this.appendEach(appending),
      ),
    );
    const [one] = decided as [StreamDecision<Command, Event, State, Rejection>];
    const decision = one.decisions[0]!;
    const result = stored.get(streamName);
    if (!decision.accepted) return { outcome: decision, decided: one };
    if (!result) return { outcome: { accepted: true, events: [], nextExpectedRevision: one.known.revision }, decided: one };
    const outcome = {
      accepted: true as const,
      events: decision.events,
      nextExpectedRevision: result.nextExpectedRevision,
      position: result.position,
    };
    return { outcome, decided: one, result };
  }

  private steps<Command, Event extends DomainEvent, State, Rejection>(
    decider: Decider<Command, Event, State, Rejection>,
    retries: number | undefined,
    append: LoopSteps<Command, Event, State, Rejection>['append'],
  ): LoopSteps<Command, Event, State, Rejection> {
    return {
      decider,
      codec: this.codec,
      reader: this.reader,
      retries: retries ?? this.retry.retries,
      backoff: (retry) => this.sleep(conflictDelayMs(this.retry, retry, this.random())),
      append,
    };
  }

  /** Each stream on its own, a few at a time: what is refused is retried, what is stored stays. */
  private async appendEach(decided: readonly Appendable[]): Promise<AppendRound> {
    const stored = new Map<string, AppendResult>();
    const refused: string[] = [];
    let conflict: Error | undefined;
    await inParallel(decided, APPEND_CONCURRENCY, async (each) => {
      try {
        const expectedRevision = expectedRevisionOf(each.known.revision);
        stored.set(each.streamName, await this.store.appendToStream(each.streamName, each.toAppend, { expectedRevision }));
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        refused.push(each.streamName);
        conflict = error;
      }
    });
    return { stored, refused, conflict };
  }

  /** One stream's decision through the caller's write (StreamCommand.storeWith). */
  private async storeThrough<Event extends DomainEvent>(
    storeWith: NonNullable<StreamCommand<unknown, Event, unknown, unknown>['storeWith']>,
    decided: readonly Appendable[],
  ): Promise<AppendRound> {
    const [one] = decided as [Appendable];
    const append = { streamName: one.streamName, events: one.toAppend, expectedRevision: one.known.revision };
    try {
      const stored = await storeWith({ events: one.events as readonly Event[], append });
      if (!stored) return await this.appendEach(decided);
      return { stored: new Map([[one.streamName, stored]]), refused: [] };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      return { stored: new Map(), refused: [one.streamName], conflict: error };
    }
  }

  /** Every stream in one statement inside the caller's transaction: all are stored, or none. */
  private async appendWithin(store: TransactionalEventStore, client: ClientBase, decided: readonly Appendable[]): Promise<AppendRound> {
    try {
      const results = await store.appendManyWithin(
        client,
        decided.map((each) => ({ streamName: each.streamName, events: each.toAppend, expectedRevision: each.known.revision })),
      );
      return { stored: new Map(decided.map((each, index) => [each.streamName, results[index]!])), refused: [] };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      return { stored: new Map(), refused: refusedStreams(error), conflict: error };
    }
  }
}

function expectedRevisionOf(revision: bigint): ExpectedRevision {
  return revision === -1n ? 'no_stream' : revision;
}

/** The state a stream taken to be new has: the initial one, at no revision. */
function hinted<State>(decider: Evolving<never, State>): Known<State> {
  return { state: decider.initialState(), revision: -1n, confirmed: false, hinted: true };
}

/** What the cache keeps of a stream once its decision is stored (or was nothing to store). Folds: call once. */
function stateAfter<Command, Event extends DomainEvent, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  decided: StreamDecision<Command, Event, State, Rejection>,
  stored: AppendResult | undefined,
): CachedState {
  if (stored) return { state: settledState(decider, decided), revision: stored.nextExpectedRevision };
  return { state: decided.known.state, revision: decided.known.revision };
}

function remembered<State>(cached: CachedState): Known<State> {
  return { state: cached.state as State, revision: cached.revision, confirmed: false };
}
