import { given } from '#cqrs/testing';
import { retentionBody, retentionCutoff, retentionDecider, RetentionSet } from './retention';

const now = new Date('2026-12-06T10:00:00.000Z');
const set = (trackedEventsDays: number | null) => ({ type: 'SetRetention' as const, policy: { trackedEventsDays }, now });

describe('retention of tracked events', () => {
  test('a period is set as an event, and setting the one in force again records nothing', () => {
    given(retentionDecider, [])
      .when(set(30))
      .then([RetentionSet({ trackedEventsDays: 30, at: now.toISOString() })]);
    given(retentionDecider, [RetentionSet({ trackedEventsDays: 30, at: '2026-01-01T00:00:00.000Z' })])
      .when(set(30))
      .thenNothingHappens();
    given(retentionDecider, []).when(set(null)).thenNothingHappens();
  });

  test('keeping events for ever again is a change like any other', () => {
    given(retentionDecider, [RetentionSet({ trackedEventsDays: 30, at: '2026-01-01T00:00:00.000Z' })])
      .when(set(null))
      .then([RetentionSet({ trackedEventsDays: null, at: now.toISOString() })]);
  });

  test('a period under a day, over ten years or not whole is refused, whatever reached the decider', () => {
    for (const days of [0, -1, 3651, 1.5, Number.NaN]) given(retentionDecider, []).when(set(days)).thenRejects({ kind: 'InvalidPeriod' });
  });

  test('the cutoff is the period before now; none while events are kept for ever', () => {
    expect(retentionCutoff({ trackedEventsDays: 30 }, now)).toEqual(new Date('2026-11-06T10:00:00.000Z'));
    expect(retentionCutoff({ trackedEventsDays: null }, now)).toBeUndefined();
  });

  test('the body names what is wrong with a period', () => {
    expect(retentionBody.safeParse({ trackedEventsDays: 30 }).success).toBe(true);
    expect(retentionBody.safeParse({ trackedEventsDays: null }).success).toBe(true);
    for (const bad of [
      { trackedEventsDays: '30' },
      { trackedEventsDays: 0 },
      { trackedEventsDays: 4000 },
      {},
      { trackedEventsDays: 1, extra: 1 },
    ])
      expect(retentionBody.safeParse(bad).success).toBe(false);
  });
});
