import { ProblemError, TenantRateLimiter } from '#platform';
import { RefusalBudget } from './refusal-budget';

describe('a tenant’s budget of refused tracking calls', () => {
  const clock = { now: 0 };
  const budget = (hold = { ms: 0, maxHeldPerTenant: 0, maxHeldBytesPerTenant: 0 }) =>
    new RefusalBudget(new TenantRateLimiter({ ratePerSecond: 1, burst: 2, now: () => clock.now }), hold);
  const status = (call: Promise<void>) =>
    call.then(
      () => 'admitted',
      (error: unknown) => (error instanceof ProblemError ? error.status : 'other'),
    );
  beforeEach(() => {
    clock.now = 0;
  });

  test('accepted calls and failures of the service spend nothing; refusals of the caller’s making do', async () => {
    const refusals = budget();
    for (const answered of [200, 429, 500, 503, 401, 403]) refusals.answered('t', answered);
    await expect(status(refusals.admit('t'))).resolves.toBe('admitted');
    refusals.answered('t', 400);
    refusals.answered('t', 413);
    await expect(status(refusals.admit('t'))).resolves.toBe(429);
    await expect(status(refusals.admit('other tenant'))).resolves.toBe('admitted');
    clock.now = 1000;
    await expect(status(refusals.admit('t'))).resolves.toBe('admitted');
  });

  test('the 429 of a tenant past its budget waits out the hold, up to the cap of held calls; past the cap it comes at once', async () => {
    jest.useFakeTimers();
    try {
      const refusals = budget({ ms: 1000, maxHeldPerTenant: 2, maxHeldBytesPerTenant: 0 });
      refusals.answered('t', 422);
      refusals.answered('t', 415);
      const answers: unknown[] = [];
      for (let i = 0; i < 2; i++) void status(refusals.admit('t')).then((answer) => answers.push(answer));
      await expect(status(refusals.admit('t'))).resolves.toBe(429);
      await expect(status(refusals.admit('other tenant'))).resolves.toBe('admitted');
      await jest.advanceTimersByTimeAsync(999);
      expect(answers).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(answers).toEqual([429, 429]);
      // The held calls are answered: the next one is held again.
      const next = status(refusals.admit('t'));
      await jest.advanceTimersByTimeAsync(500);
      expect(answers).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(500);
      await expect(next).resolves.toBe(429);
    } finally {
      jest.useRealTimers();
    }
  });

  test('calls whose body is already read are held only up to the bytes cap; past it their 429 comes at once', async () => {
    jest.useFakeTimers();
    try {
      const refusals = budget({ ms: 1000, maxHeldPerTenant: 100, maxHeldBytesPerTenant: 1000 });
      refusals.answered('t', 400);
      refusals.answered('t', 400);
      const held: unknown[] = [];
      for (let i = 0; i < 2; i++) void status(refusals.admit('t', 400)).then((answer) => held.push(answer));
      // 800 bytes held: another 400 would pass the cap, a header-key call (no body yet) still waits.
      await expect(status(refusals.admit('t', 400))).resolves.toBe(429);
      void status(refusals.admit('t')).then((answer) => held.push(answer));
      await jest.advanceTimersByTimeAsync(999);
      expect(held).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(held).toEqual([429, 429, 429]);
      // Released: the bytes are free again.
      const next: unknown[] = [];
      void status(refusals.admit('t', 900)).then((answer) => next.push(answer));
      await jest.advanceTimersByTimeAsync(999);
      expect(next).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(next).toEqual([429]);
    } finally {
      jest.useRealTimers();
    }
  });
});
