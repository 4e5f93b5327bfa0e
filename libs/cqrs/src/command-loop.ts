import type { AppendResult, EventToAppend } from '#eventstore';
import { fold, type Decider, type Decision } from './decider';
import type { EventCodec } from './event-codec';
import type { CommandContext } from './event-envelope';
import type { DomainEvent } from './event-types';
import { inParallel, type Known, type StreamReader } from './stream-reader';

/** A command for a stream, or how to build it from the stream's state (when it needs facts from elsewhere). */
export interface PlannedCommand<Command, State> {
  readonly command: Command | ((state: State) => Promise<Command>);
  readonly context: CommandContext;
}

/** What was decided for one stream on what was known of it. */
export interface StreamDecision<Command, Event extends DomainEvent, State, Rejection> {
  readonly streamName: string;
  readonly commands: readonly PlannedCommand<Command, State>[];
  readonly known: Known<State>;
  /** One per command, in order. */
  readonly decisions: readonly Decision<Event, Rejection>[];
  /** Every event accepted, in order, and the same encoded for the store. */
  readonly events: readonly Event[];
  readonly toAppend: readonly EventToAppend[];
  /**
   * The state after every accepted event but those of the last decision, which are folded in only
   * once they are stored (see settledState): a single command's state stays as it was read, so a
   * conflict costs a read of the stream's tail, not of the whole stream.
   */
  readonly folded: State;
  readonly unfolded: readonly Event[];
  /** `known.state` was evolved to decide a later command: refreshing it takes a whole read. */
  readonly spent: boolean;
}

/** What an append needs of a decision. */
export interface Appendable {
  readonly streamName: string;
  /** What was decided, as `toAppend` holds it encoded. */
  readonly events: readonly DomainEvent[];
  readonly toAppend: readonly EventToAppend[];
  readonly known: { readonly revision: bigint };
}

/** One round of appends: what was stored, and which streams were refused (with the error saying so). */
export interface AppendRound {
  readonly stored: ReadonlyMap<string, AppendResult>;
  readonly refused: readonly string[];
  readonly conflict?: Error;
}

export interface LoopSteps<Command, Event extends DomainEvent, State, Rejection> {
  readonly decider: Decider<Command, Event, State, Rejection>;
  readonly codec: EventCodec;
  readonly reader: StreamReader;
  /** Conflicts retried before the last one is thrown. */
  readonly retries: number;
  /** Waits before retry number `retry` (1 for the first). */
  backoff(retry: number): Promise<void>;
  append(decided: readonly Appendable[]): Promise<AppendRound>;
}

/**
 * The one decide-and-append loop (after Emmett's handleCommandWithDecider), for one stream or
 * many: decide every stream's commands on what is known of it, append what was decided with the
 * revision it was decided on, and when the store refuses a stream (another writer got there
 * first) wait a jittered backoff, read what the winner wrote and decide that stream again, a
 * bounded number of times. A rejection decided on a state that was not read during this call (a
 * cached one) is checked against the store before it is answered: it may rest on what another
 * process has since changed.
 */
export async function decideUntilStored<Command, Event extends DomainEvent, State, Rejection>(
  streams: readonly {
    readonly streamName: string;
    readonly commands: readonly PlannedCommand<Command, State>[];
    readonly known: Known<State>;
  }[],
  steps: LoopSteps<Command, Event, State, Rejection>,
): Promise<{ decided: StreamDecision<Command, Event, State, Rejection>[]; stored: Map<string, AppendResult> }> {
  let decided = await Promise.all(streams.map((stream) => decideStream(steps, stream.streamName, stream.commands, stream.known)));
  const stored = new Map<string, AppendResult>();
  let retried = 0;
  for (;;) {
    // A hinted state vouches for itself as a read would: the stream is new, its state the initial one.
    const doubtful = decided.filter(
      (each) => !each.known.confirmed && !each.known.hinted && each.decisions.some((decision) => !decision.accepted),
    );
    if (doubtful.length > 0) {
      decided = await decideAgain(steps, decided, doubtful, true);
      continue;
    }
    const appending = decided.filter((each) => each.toAppend.length > 0 && !stored.has(each.streamName));
    if (appending.length === 0) return { decided, stored };
    const round = await steps.append(appending);
    for (const [name, result] of round.stored) stored.set(name, result);
    if (round.refused.length === 0) return { decided, stored };
    const refused = decided.filter((each) => round.refused.includes(each.streamName));
    // A stream taken to be new exists after all: the hint was wrong, no race was lost.
    if (!refused.every((each) => each.known.hinted)) {
      if (retried >= steps.retries) throw round.conflict;
      await steps.backoff(++retried);
    }
    decided = await decideAgain(steps, decided, refused, false);
  }
}

/** The stream's state once what was decided for it is stored. Folds onto `known.state`: call once. */
export function settledState<Command, Event extends DomainEvent, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  decided: StreamDecision<Command, Event, State, Rejection>,
): State {
  return fold(decider, decided.unfolded, decided.folded);
}

async function decideStream<Command, Event extends DomainEvent, State, Rejection>(
  steps: Pick<LoopSteps<Command, Event, State, Rejection>, 'decider' | 'codec'>,
  streamName: string,
  commands: readonly PlannedCommand<Command, State>[],
  known: Known<State>,
): Promise<StreamDecision<Command, Event, State, Rejection>> {
  const { decider, codec } = steps;
  const decisions: Decision<Event, Rejection>[] = [];
  const events: Event[] = [];
  const toAppend: EventToAppend[] = [];
  let state = known.state;
  let unfolded: readonly Event[] = [];
  let spent = false;
  for (const { command, context } of commands) {
    if (unfolded.length > 0) {
      state = fold(decider, unfolded, state);
      unfolded = [];
      spent = true;
    }
    const decision = decider.decide(
      typeof command === 'function' ? await (command as (state: State) => Promise<Command>)(state) : command,
      state,
    );
    decisions.push(decision);
    if (!decision.accepted || decision.events.length === 0) continue;
    unfolded = decision.events;
    events.push(...decision.events);
    toAppend.push(...(await codec.encodeAll(decision.events, context)));
  }
  return { streamName, commands, known, decisions, events, toAppend, folded: state, unfolded, spent };
}

/**
 * Decides the `targets` again on what the store holds now: their tails read onto states that are
 * still as they were read, spent ones read whole. `confirming` (a rejection is being checked): a
 * stream with nothing new keeps its decision, now confirmed.
 */
async function decideAgain<Command, Event extends DomainEvent, State, Rejection>(
  steps: LoopSteps<Command, Event, State, Rejection>,
  decided: StreamDecision<Command, Event, State, Rejection>[],
  targets: readonly StreamDecision<Command, Event, State, Rejection>[],
  confirming: boolean,
): Promise<StreamDecision<Command, Event, State, Rejection>[]> {
  const { reader, decider } = steps;
  const spent = targets.filter((each) => each.spent);
  const wholly = await reader.many(
    spent.map((each) => each.streamName),
    decider,
  );
  const again = new Map<string, StreamDecision<Command, Event, State, Rejection>>();
  await inParallel(targets, 16, async (target) => {
    let known = wholly.get(target.streamName);
    if (!known) {
      const tail = await reader.tail(target.streamName, decider, target.known);
      if (confirming && !tail.changed) return void again.set(target.streamName, { ...target, known: tail.known });
      known = tail.known;
    }
    again.set(target.streamName, await decideStream(steps, target.streamName, target.commands, known));
  });
  return decided.map((each) => again.get(each.streamName) ?? each);
}
