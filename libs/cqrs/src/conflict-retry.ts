/**
 * How a command that lost a race for a stream is tried again. Each retry decides anew on the state
 * the winner left, so it is only for commands whose decision is safe to re-take on newer state.
 */
export interface ConflictRetry {
  /** Tries after the first; 0 surfaces the first conflict to the caller. */
  readonly retries: number;
  /** The longest wait before the first retry; it doubles for each retry after that ... */
  readonly baseDelayMs: number;
  /** ... up to this, so that a long series of retries stays short. */
  readonly maxDelayMs: number;
}

/**
 * A few retries, waiting a few milliseconds: a conflict means another writer just appended, and
 * the retry reads what it wrote, so waiting long buys nothing; waiting at all (and each writer a
 * different time) keeps writers that keep colliding from colliding again in lockstep.
 */
export const DEFAULT_CONFLICT_RETRY: ConflictRetry = { retries: 3, baseDelayMs: 5, maxDelayMs: 100 };

/**
 * The wait before retry number `retry` (1 for the first), with "full jitter": uniformly drawn
 * between 0 and min(maxDelayMs, baseDelayMs · 2^(retry − 1)) by `random` (in [0, 1)). Pure, so
 * the rule has its own spec; the command runner passes Math.random.
 */
export function conflictDelayMs(policy: ConflictRetry, retry: number, random: number): number {
  if (!Number.isInteger(retry) || retry < 1) throw new RangeError(`not a retry number: ${retry}`);
  // 2^(retry − 1) grows past any sensible cap by retry 60; stop doubling there so it stays finite.
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 60));
  return Math.max(0, Math.min(random, 1)) * ceiling;
}
