import type { DomainEvent } from './event-types';

/**
 * Business rules as pure functions (after Emmett's decider): no I/O, no clock — time arrives on
 * the command. The same functions serve specs, command handlers and rebuilds.
 */
export interface Decider<Command, Event extends DomainEvent, State, Rejection> {
  initialState(): State;
  /** Total over every event type; never throws. */
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): Decision<Event, Rejection>;
}

export type Decision<Event, Rejection> =
  { readonly accepted: true; readonly events: readonly Event[] } | { readonly accepted: false; readonly rejection: Rejection };

export function accept<const Events extends readonly unknown[]>(...events: Events): Decision<Events[number], never> {
  return { accepted: true, events };
}

export function reject<Rejection>(rejection: Rejection): Decision<never, Rejection> {
  return { accepted: false, rejection };
}

/**
 * The state after `events`, from the initial state or from `from`: the one fold that specs,
 * command handling and reads share. `evolve` may hand a state's collections on to the next (a
 * busy wallet's), so `from` is not to be used again afterwards.
 */
export function fold<Event extends DomainEvent, State>(
  decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
  events: Iterable<Event>,
  from: State = decider.initialState(),
): State {
  let state = from;
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
