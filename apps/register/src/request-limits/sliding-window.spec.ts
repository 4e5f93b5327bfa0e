import { hasRoom, retryAfterMs, windowAt, type WindowCounts } from './sliding-window';

const MINUTE = 60_000;
const counts = (overrides: Partial<WindowCounts>): WindowCounts => ({
  current: 0,
  previous: 0,
  limit: 5,
  elapsedMs: 0,
  windowMs: MINUTE,
  ...overrides,
});

describe('a request limit over a sliding window', () => {
  test('lets hits through up to the limit within one window, then refuses', () => {
    expect(hasRoom(counts({ current: 4 }))).toBe(true);
    expect(hasRoom(counts({ current: 5 }))).toBe(false);
  });

  test("counts the previous window's hits by how much of it the sliding window still covers", () => {
    // A quarter into the window, three quarters of the previous window's 4 hits still count: 3.
    expect(hasRoom(counts({ previous: 4, current: 1, elapsedMs: MINUTE / 4 }))).toBe(true);
    expect(hasRoom(counts({ previous: 4, current: 2, elapsedMs: MINUTE / 4 }))).toBe(false);
    // A burst at the end of one window does not buy a second full burst at the start of the next.
    expect(hasRoom(counts({ previous: 5, current: 0, elapsedMs: 1 }))).toBe(false);
  });

  test('says to retry once the previous window has faded enough, when the current one has room of its own', () => {
    const refused = counts({ previous: 4, current: 2, elapsedMs: MINUTE / 4 });
    const wait = retryAfterMs(refused);
    // 2 + 1 + 4w <= 5 needs w <= 1/2: half-way through the window, a quarter of it from now.
    expect(wait).toBe(MINUTE / 4);
    expect(hasRoom({ ...refused, elapsedMs: refused.elapsedMs + wait })).toBe(true);
    expect(hasRoom({ ...refused, elapsedMs: refused.elapsedMs + wait - 1000 })).toBe(false);
  });

  test('says to retry into the next window when the current one is full', () => {
    const refused = counts({ previous: 0, current: 5, elapsedMs: MINUTE / 2 });
    // Next window: 5(1 - e/W) + 1 <= 5 needs e >= W/5; from now that is half a window plus a fifth.
    expect(retryAfterMs(refused)).toBe(MINUTE / 2 + MINUTE / 5);
    expect(hasRoom({ current: 0, previous: 5, limit: 5, elapsedMs: MINUTE / 5, windowMs: MINUTE })).toBe(true);
  });

  test('never says less than a second, and nothing while there is room', () => {
    expect(retryAfterMs(counts({ current: 5, previous: 0, elapsedMs: MINUTE - 1, limit: 100 }))).toBe(0);
    expect(retryAfterMs(counts({ current: 1, limit: 1, previous: 0, elapsedMs: MINUTE - 10, windowMs: MINUTE }))).toBe(MINUTE + 10);
    expect(retryAfterMs(counts({ current: 0, previous: 100, limit: 100, elapsedMs: 0 }))).toBeGreaterThanOrEqual(1000);
  });

  test('the fixed windows start on multiples of the window length', () => {
    const at = windowAt(new Date(10 * MINUTE + 1234), MINUTE);
    expect(at).toEqual({ start: new Date(10 * MINUTE), previousStart: new Date(9 * MINUTE), elapsedMs: 1234 });
  });
});
