import type { SendOutcome } from './webhook-sender';

export interface RetryPolicy {
  /** Attempts after which a delivery is dead-lettered. */
  readonly maxAttempts: number;
  /** Age (from the event) after which a failing delivery is dead-lettered whatever its attempts. */
  readonly maxAgeMs: number;
  /** The first backoff's ceiling; each attempt doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Consecutive failures of an endpoint that open its circuit. */
  readonly breakerThreshold: number;
  /** How long an opened circuit stays open at first; doubles each time it opens again, up to `maxDelayMs`. */
  readonly breakerCooldownMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 12,
  maxAgeMs: 3 * 24 * 3600 * 1000,
  baseDelayMs: 1000,
  maxDelayMs: 3600 * 1000,
  breakerThreshold: 5,
  breakerCooldownMs: 5000,
};

/** What to do with a delivery after one attempt. */
export type Verdict =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string }
  | { readonly kind: 'dead'; readonly reason: string };

/**
 * 2xx delivers. 408, 425, 429, 5xx and failures to connect are worth retrying; any other answer
 * (400, 401, 404, a 3xx we do not follow...) will not change by itself, and an address the policy
 * refuses never will: dead-lettered at once, for a person to look at. Otherwise the backoff is
 * exponential with full jitter (a uniform draw below the ceiling, so that a thousand deliveries
 * failing together do not come back together), or what Retry-After asks on 429 and 503.
 */
export function verdictOf(outcome: SendOutcome, attempts: number, ageMs: number, policy: RetryPolicy, random: () => number): Verdict {
  let reason: string;
  let retryAfter: number | undefined;
  if (outcome.kind === 'answered') {
    const { status } = outcome;
    if (status >= 200 && status < 300) return { kind: 'delivered' };
    reason = `the receiver answered ${status}`;
    const retryable = status === 408 || status === 425 || status === 429 || status >= 500;
    if (!retryable) return { kind: 'dead', reason };
    if (status === 429 || status === 503) retryAfter = outcome.retryAfterMs;
  } else {
    if (outcome.refused) return { kind: 'dead', reason: outcome.error };
    reason = outcome.error;
  }
  if (attempts >= policy.maxAttempts) return { kind: 'dead', reason: `${reason} (${attempts} attempts)` };
  if (ageMs >= policy.maxAgeMs) return { kind: 'dead', reason: `${reason} (older than ${policy.maxAgeMs} ms)` };
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
  const delayMs = retryAfter !== undefined ? Math.min(retryAfter, policy.maxDelayMs) : Math.floor(random() * ceiling);
  return { kind: 'retry', delayMs, reason };
}

/** How long an endpoint's circuit opens after its `failures`-th consecutive failure; 0 while it stays closed. */
export function breakerOpenMs(failures: number, policy: RetryPolicy): number {
  if (failures < policy.breakerThreshold) return 0;
  return Math.min(policy.maxDelayMs, policy.breakerCooldownMs * 2 ** Math.min(failures - policy.breakerThreshold, 20));
}
