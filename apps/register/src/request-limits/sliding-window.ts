/**
 * The rule every request limit of register follows: a sliding window approximated from two fixed
 * windows (the current one and the one before it), as counted in PostgreSQL so that every replica
 * sees the same counts. The previous window's hits weigh by how much of it still overlaps the
 * sliding window ending now; a fixed window alone would let twice the limit through around each
 * window boundary.
 */
export interface WindowCounts {
  /** Hits counted in the current fixed window. */
  readonly current: number;
  /** Hits counted in the fixed window before it. */
  readonly previous: number;
  readonly limit: number;
  /** How far into the current fixed window `now` is. */
  readonly elapsedMs: number;
  readonly windowMs: number;
}

/** The fixed window `now` falls in, and how far into it. */
export function windowAt(now: Date, windowMs: number): { start: Date; previousStart: Date; elapsedMs: number } {
  const time = now.getTime();
  const start = time - (time % windowMs);
  return { start: new Date(start), previousStart: new Date(start - windowMs), elapsedMs: time - start };
}

/** How much the previous window still counts: 1 at the start of the current window, towards 0 at its end. */
export function previousWeight(elapsedMs: number, windowMs: number): number {
  return 1 - elapsedMs / windowMs;
}

/** Whether one more hit fits under the limit. */
export function hasRoom(counts: WindowCounts): boolean {
  return counts.current + 1 + counts.previous * previousWeight(counts.elapsedMs, counts.windowMs) <= counts.limit;
}

/**
 * How long until one more hit fits, for Retry-After (never less than a second). While the current
 * window has room of its own, the wait is for the previous window's weight to fall far enough;
 * otherwise it is into the next window, where the current count becomes the one that fades.
 */
export function retryAfterMs(counts: WindowCounts): number {
  const { current, previous, limit, elapsedMs, windowMs } = counts;
  if (hasRoom(counts)) return 0;
  let waitMs: number;
  if (current + 1 <= limit && previous > 0) {
    const fadedEnoughAt = windowMs * (1 - (limit - 1 - current) / previous);
    waitMs = fadedEnoughAt - elapsedMs;
  } else {
    const intoNextWindow = current > 0 ? windowMs * (1 - (limit - 1) / current) : 0;
    waitMs = windowMs - elapsedMs + Math.max(0, intoNextWindow);
  }
  return Math.max(1000, Math.ceil(waitMs));
}
