import { ProblemError } from './problem-details';
import { TenantConcurrencyLimiter, TenantRateLimiter } from './tenant-fairness';

describe('tenant fairness', () => {
  let clock = 0;
  const limiter = (options: { ratePerSecond: number; burst: number; maxTenants?: number }) =>
    new TenantRateLimiter({ ...options, now: () => clock });
  beforeEach(() => {
    clock = 0;
  });

  test("a tenant over its budget is refused, and another tenant's budget is untouched", () => {
    const rate = limiter({ ratePerSecond: 10, burst: 5 });
    for (let i = 0; i < 5; i++) expect(rate.take('noisy')).toEqual({ allowed: true });
    expect(rate.take('noisy')).toEqual({ allowed: false, retryAfterMs: 100 });
    for (let i = 0; i < 5; i++) expect(rate.take('quiet')).toEqual({ allowed: true });
  });

  test('tokens come back at the rate, never beyond the burst', () => {
    const rate = limiter({ ratePerSecond: 10, burst: 5 });
    for (let i = 0; i < 5; i++) rate.take('t');
    clock = 300;
    for (let i = 0; i < 3; i++) expect(rate.take('t').allowed).toBe(true);
    expect(rate.take('t').allowed).toBe(false);
    clock = 60_000;
    for (let i = 0; i < 5; i++) expect(rate.take('t').allowed).toBe(true);
    expect(rate.take('t').allowed).toBe(false);
  });

  test('a cost above the burst passes on a full bucket and is paid back in full before the next', () => {
    const rate = limiter({ ratePerSecond: 100, burst: 50 });
    expect(rate.take('t', 30).allowed).toBe(true);
    expect(rate.take('t', 30)).toEqual({ allowed: false, retryAfterMs: 100 });
    clock = 1000;
    expect(rate.take('t', 2500).allowed).toBe(true);
    expect(rate.take('t', 1)).toEqual({ allowed: false, retryAfterMs: 24_510 });
    clock = 1000 + 24_600;
    expect(rate.take('t', 1).allowed).toBe(true);
  });

  test('peek says whether a tenant could spend, and spends nothing', () => {
    const rate = limiter({ ratePerSecond: 10, burst: 2 });
    expect(rate.peek('t')).toEqual({ allowed: true });
    rate.take('t');
    rate.take('t');
    expect(rate.peek('t')).toEqual({ allowed: false, retryAfterMs: 100 });
    clock = 100;
    expect(rate.peek('t')).toEqual({ allowed: true });
    expect(rate.peek('t')).toEqual({ allowed: true });
    expect(rate.take('t').allowed).toBe(true);
    expect(rate.peek('t').allowed).toBe(false);
  });

  test('enforce answers 429 with Retry-After in whole seconds', () => {
    const rate = limiter({ ratePerSecond: 0.5, burst: 1 });
    rate.enforce('t');
    const refusal = (() => {
      try {
        rate.enforce('t', 1, 'tracking calls');
      } catch (error) {
        return error;
      }
    })() as ProblemError;
    expect(refusal).toBeInstanceOf(ProblemError);
    expect(refusal.status).toBe(429);
    expect(refusal.headers['Retry-After']).toBe('2');
    expect(refusal.detail).toBe('this tenant sends tracking calls faster than its share; retry later');
  });

  test('many tenants do not grow the buckets without bound; the idlest go first', () => {
    const rate = limiter({ ratePerSecond: 1, burst: 1, maxTenants: 3 });
    for (const tenant of ['a', 'b', 'c', 'd']) rate.take(tenant);
    // 'a' was forgotten: a forgotten bucket is a full one.
    expect(rate.take('a').allowed).toBe(true);
    expect(rate.take('d').allowed).toBe(false);
  });

  test('concurrency: a tenant with its slots taken is refused while another tenant runs', async () => {
    const limit = new TenantConcurrencyLimiter(2);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const running = [limit.run('noisy', () => held), limit.run('noisy', () => held)];
    await expect(limit.run('noisy', async () => 'third')).rejects.toMatchObject({ status: 429 });
    await expect(limit.run('quiet', async () => 'ran')).resolves.toBe('ran');
    release();
    await Promise.all(running);
    expect(limit.inFlightFor('noisy')).toBe(0);
    await expect(limit.run('noisy', async () => 'again')).resolves.toBe('again');
  });

  test('heavy work holds as many slots as it weighs; heavier than the share, it runs only alone', async () => {
    const limit = new TenantConcurrencyLimiter(8);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const heavy = limit.run('migrating', () => held, 'sign-ins', 5);
    expect(limit.inFlightFor('migrating')).toBe(5);
    const light = [1, 2, 3].map(() => limit.run('migrating', () => held));
    await expect(limit.run('migrating', async () => 'ninth')).rejects.toMatchObject({ status: 429 });
    release();
    await Promise.all([heavy, ...light]);
    // Seventy slots' worth on an idle share runs, and nothing of the tenant's runs beside it.
    let releaseHeaviest!: () => void;
    const heaviest = limit.run('migrating', () => new Promise<void>((resolve) => (releaseHeaviest = resolve)), 'sign-ins', 70);
    await expect(limit.run('migrating', async () => 'beside')).rejects.toMatchObject({ status: 429 });
    await expect(limit.run('quiet', async () => 'ran')).resolves.toBe('ran');
    releaseHeaviest();
    await heaviest;
    expect(limit.inFlightFor('migrating')).toBe(0);
  });

  test('six heavy sign-ins at once, each already holding a slot: one verifies on the free slots, the others are refused', async () => {
    const limit = new TenantConcurrencyLimiter(8);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const verified: number[] = [];
    const signIns = [0, 1, 2, 3, 4, 5].map((n) =>
      limit.run('migrating', async () => {
        await Promise.resolve();
        return limit.runHeavy(
          'migrating',
          async () => {
            verified.push(n);
            await held;
          },
          'sign-ins',
          7,
        );
      }),
    );
    const outcomes = Promise.allSettled(signIns);
    await new Promise((resolve) => setImmediate(resolve));
    // Six held their own slot; the one verifying took the two still free, no more, and the five
    // refused let theirs go.
    expect(verified).toHaveLength(1);
    expect(limit.inFlightFor('migrating')).toBe(3);
    await expect(limit.run('quiet', async () => 'ran')).resolves.toBe('ran');
    release();
    const settled = await outcomes;
    expect(settled.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(
      settled.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason.status),
    ).toEqual([429, 429, 429, 429, 429]);
    expect(limit.inFlightFor('migrating')).toBe(0);
    // Alone, it takes the whole share beside its own slot.
    const alone = limit.run('migrating', () =>
      limit.runHeavy('migrating', () => new Promise<void>((resolve) => (release = resolve)), 'sign-ins', 7),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(limit.inFlightFor('migrating')).toBe(8);
    release();
    await alone;
  });
});
