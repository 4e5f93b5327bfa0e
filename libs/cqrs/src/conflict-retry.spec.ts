import fc from 'fast-check';
import { conflictDelayMs, DEFAULT_CONFLICT_RETRY, type ConflictRetry } from './conflict-retry';

const policy: ConflictRetry = { retries: 20, baseDelayMs: 5, maxDelayMs: 100 };

describe('retry on conflict: jittered backoff', () => {
  test('every wait lies between 0 and the bound, which doubles from the base and stops at the maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        (retry, random, baseDelayMs, maxDelayMs) => {
          const delay = conflictDelayMs({ retries: 1_000, baseDelayMs, maxDelayMs }, retry, random);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(retry - 1, 60)));
        },
      ),
    );
  });

  test('the bound: 5, 10, 20, 40, 80 ms, then 100 ms for every later retry', () => {
    const bounds = Array.from({ length: 8 }, (_, index) => conflictDelayMs(policy, index + 1, 1 - Number.EPSILON));
    expect(bounds.map(Math.round)).toEqual([5, 10, 20, 40, 80, 100, 100, 100]);
  });

  test('the wait is drawn across the whole range, so two writers that collided wait different times', () => {
    expect(conflictDelayMs(policy, 3, 0)).toBe(0);
    expect(conflictDelayMs(policy, 3, 0.25)).toBe(5);
    expect(conflictDelayMs(policy, 3, 0.5)).toBe(10);
  });

  test('all the waits of a call together stay bounded: 20 retries wait at most about 1.7 s, the default 3 at most 35 ms', () => {
    const worst = (retry: ConflictRetry) =>
      Array.from({ length: retry.retries }, (_, index) => conflictDelayMs(retry, index + 1, 1)).reduce((a, b) => a + b, 0);
    expect(worst(policy)).toBe(5 + 10 + 20 + 40 + 80 + 15 * 100);
    expect(worst(DEFAULT_CONFLICT_RETRY)).toBe(35);
  });

  test('there is no retry number 0: the first try never waits', () => {
    expect(() => conflictDelayMs(policy, 0, 0.5)).toThrow(RangeError);
  });
});
