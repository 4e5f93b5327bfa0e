import { breakerOpenMs, DEFAULT_RETRY, verdictOf } from './retry-policy';

describe('what a failed delivery becomes', () => {
  const policy = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 5, maxAgeMs: 3_600_000 };
  const answered = (status: number, retryAfterMs?: number) => ({ kind: 'answered' as const, status, retryAfterMs });

  test('2xx is delivered', () => {
    expect(verdictOf(answered(204), 1, 0, policy, Math.random)).toEqual({ kind: 'delivered' });
  });

  test('the backoff is a uniform draw below a ceiling that doubles each attempt (full jitter), up to the maximum', () => {
    const almostOne = () => 0.999999;
    expect(verdictOf(answered(500), 1, 0, policy, almostOne)).toMatchObject({ kind: 'retry', delayMs: 999 });
    expect(verdictOf(answered(502), 3, 0, policy, almostOne)).toMatchObject({ kind: 'retry', delayMs: 3999 });
    expect(verdictOf(answered(500), 4, 0, { ...policy, maxDelayMs: 5000 }, almostOne)).toMatchObject({ kind: 'retry', delayMs: 4999 });
    expect(verdictOf(answered(500), 4, 0, policy, () => 0)).toMatchObject({ kind: 'retry', delayMs: 0 });
  });

  test('429 and 503 wait what Retry-After asks (capped), whatever the attempt', () => {
    expect(verdictOf(answered(429, 7000), 1, 0, policy, () => 0)).toMatchObject({ kind: 'retry', delayMs: 7000 });
    expect(verdictOf(answered(503, 3_600_000), 1, 0, policy, () => 0)).toMatchObject({ kind: 'retry', delayMs: 60_000 });
  });

  test('an answer that will not change, or an address refused, is dead-lettered at once', () => {
    expect(verdictOf(answered(400), 1, 0, policy, () => 0)).toMatchObject({ kind: 'dead' });
    expect(verdictOf(answered(302), 1, 0, policy, () => 0)).toMatchObject({ kind: 'dead' });
    expect(verdictOf({ kind: 'failed', error: 'x resolves to 10.0.0.1', refused: true }, 1, 0, policy, () => 0)).toMatchObject({
      kind: 'dead',
    });
  });

  test('retryable failures are dead-lettered after the last attempt or past the maximum age', () => {
    const unreachable = { kind: 'failed' as const, error: 'ECONNREFUSED', refused: false };
    expect(verdictOf(unreachable, 4, 0, policy, () => 0)).toMatchObject({ kind: 'retry' });
    expect(verdictOf(unreachable, 5, 0, policy, () => 0)).toMatchObject({ kind: 'dead', reason: 'ECONNREFUSED (5 attempts)' });
    expect(verdictOf(answered(500), 1, 3_600_000, policy, () => 0)).toMatchObject({ kind: 'dead' });
  });

  test('a circuit opens after the threshold of consecutive failures, longer each time it keeps failing', () => {
    const breaker = { ...policy, breakerThreshold: 5, breakerCooldownMs: 1000 };
    expect(breakerOpenMs(4, breaker)).toBe(0);
    expect(breakerOpenMs(5, breaker)).toBe(1000);
    expect(breakerOpenMs(7, breaker)).toBe(4000);
    expect(breakerOpenMs(40, breaker)).toBe(60_000);
  });
});
