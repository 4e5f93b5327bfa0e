import { setTimeout as delay } from 'node:timers/promises';

export interface EventuallyOptions {
  /** How long to keep trying; 10 s unless said. */
  readonly timeoutMs?: number;
  /** Pause between tries; 20 ms unless said. */
  readonly intervalMs?: number;
  /** What is awaited, for the error when it never happens. */
  readonly what?: string;
}

/**
 * Polls until `condition` holds, for effects a test can only observe eventually (a projection
 * catching up, another process answering). A condition is either a predicate (false: not yet) or
 * an assertion (throws: not yet; returns: done); when time runs out the last assertion's error is
 * thrown, so the failure says what was last seen. A deadline, never a count of tries: a loaded
 * machine only waits longer.
 */
export async function eventually(
  condition: () => boolean | void | Promise<boolean | void>,
  options: EventuallyOptions | number = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 20, what } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown;
    try {
      if ((await condition()) !== false) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      if (lastError) throw lastError;
      throw new Error(`not within ${timeoutMs} ms${what ? `: ${what}` : ''}`);
    }
    await delay(intervalMs);
  }
}
