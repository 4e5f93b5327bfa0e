import { WrongExpectedRevisionError, type EventStore, type ExpectedRevision, type Position } from '#eventstore';
import type { Decider } from './decider';
import type { CommandContext, EventEnvelope } from './event-envelope';
import type { EventCodec } from './event-codec';
import type { DomainEvent } from './event-types';

export interface StreamCommand<Command, Event extends DomainEvent, State, Rejection> {
  readonly streamName: string;
  readonly decider: Decider<Command, Event, State, Rejection>;
  /** The command, or how to build it from the current state (when it needs facts from elsewhere). */
  readonly command: Command | ((state: State) => Promise<Command>);
  readonly context: CommandContext;
  /**
   * How many times to read, decide and append again after a concurrent writer won the race.
   * Only for commands whose decision is safe to re-take on newer state; 0 surfaces the conflict.
   */
  readonly retriesOnConflict?: number;
  /**
   * The stream almost certainly does not exist yet (a fresh id, a first claim): decide on the
   * initial state and append expecting no stream, skipping the read. If the stream does exist the
   * append fails and the command is handled the usual way, so the hint costs nothing in correctness.
   */
  readonly expectNewStream?: boolean;
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

/**
 * The one place that touches the store for a command: read the stream, fold it with `evolve`,
 * `decide`, and append with the revision that was read, so a concurrent writer makes the append
 * fail rather than silently interleave.
 */
export class CommandRunner {
  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
  ) {}

  async handle<Command, Event extends DomainEvent, State, Rejection>(
    request: StreamCommand<Command, Event, State, Rejection>,
  ): Promise<CommandOutcome<Event, Rejection>> {
    const retries = request.retriesOnConflict ?? 3;
    if (request.expectNewStream) {
      try {
        return await this.decideAndAppend(request, request.decider.initialState(), -1n);
      } catch (error) {
        // The stream exists after all: that is the hint being wrong, not a lost race, so no retry is spent.
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(request);
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= retries) throw error;
      }
    }
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

  /** Current state of a stream, decoded and folded. */
  async load<Event extends DomainEvent, State>(
    streamName: string,
    decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
  ): Promise<{ state: State; revision: bigint; envelopes: EventEnvelope<Event>[] }> {
    const recorded = await this.store.readStream(streamName);
    const envelopes = await Promise.all(recorded.map((event) => this.codec.decode<Event>(event)));
    let state = decider.initialState();
    for (const envelope of envelopes) state = decider.evolve(state, envelope.event);
    const revision = recorded.length === 0 ? -1n : recorded[recorded.length - 1]!.revision;
    return { state, revision, envelopes };
  }

  private async attempt<Command, Event extends DomainEvent, State, Rejection>(
    request: StreamCommand<Command, Event, State, Rejection>,
  ): Promise<CommandOutcome<Event, Rejection>> {
    const { state, revision } = await this.load(request.streamName, request.decider);
    return this.decideAndAppend(request, state, revision);
  }

  private async decideAndAppend<Command, Event extends DomainEvent, State, Rejection>(
    request: StreamCommand<Command, Event, State, Rejection>,
    state: State,
    revision: bigint,
  ): Promise<CommandOutcome<Event, Rejection>> {
    const command =
      typeof request.command === 'function' ? await (request.command as (state: State) => Promise<Command>)(state) : request.command;
    const decision = request.decider.decide(command, state);
    if (!decision.accepted) return decision;
    if (decision.events.length === 0) return { accepted: true, events: [], nextExpectedRevision: revision };
    const expectedRevision: ExpectedRevision = revision === -1n ? 'no_stream' : revision;
    const toAppend = await this.codec.encodeAll(decision.events, request.context);
    const result = await this.store.appendToStream(request.streamName, toAppend, { expectedRevision });
    return { accepted: true, events: decision.events, nextExpectedRevision: result.nextExpectedRevision, position: result.position };
  }
}
