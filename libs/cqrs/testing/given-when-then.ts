import { fold, type Decider } from '../src/decider';
import type { DomainEvent } from '../src/event-types';

/**
 * Reads a decider spec like the rule it checks:
 *   given(decider, [PointsEarned(...)]).when(Redeem(...)).thenRejects({ kind: 'InsufficientPoints' })
 */
export function given<Command, Event extends DomainEvent, State, Rejection>(
  decider: Decider<Command, Event, State, Rejection>,
  history: readonly Event[],
) {
  return {
    when(command: Command) {
      const decision = decider.decide(command, fold(decider, history));
      return {
        then(expected: readonly Event[]): void {
          expect(decision).toEqual({ accepted: true, events: expected });
        },
        thenNothingHappens(): void {
          expect(decision).toEqual({ accepted: true, events: [] });
        },
        thenRejects(expected: Partial<Rejection> & object): void {
          expect(decision.accepted).toBe(false);
          if (!decision.accepted) expect(decision.rejection).toMatchObject(expected);
        },
      };
    },
  };
}
