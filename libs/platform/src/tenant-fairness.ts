import { ProblemError } from './problem-details';

/**
 * 429 for one tenant, with the seconds after which a retry may pass. Only the noisy tenant gets
 * it: every other tenant's budget is its own.
 */
export function tenantRateLimited(retryAfterMs: number, detail: string): ProblemError {
  return new ProblemError({
    status: 429,
    type: 'rate-limited',
    title: 'Too many requests for this tenant',
    detail,
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
}

export interface TenantRateOptions {
  /** Sustained units per second one tenant may spend. */
  readonly ratePerSecond: number;
  /** Units one tenant may spend at once after being quiet. */
  readonly burst: number;
  /** Buckets kept at most; full ones are dropped first (a full bucket is the same as none). */
  readonly maxTenants?: number;
  readonly now?: () => number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * A token bucket per tenant (per process: each replica protects what it shares between tenants,
 * its event loop, its pool and its queue). Costs are whatever the caller shares out: requests,
 * events of a batch, argon2 hashes.
 */
export class TenantRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;
  private readonly maxTenants: number;

  constructor(private readonly options: TenantRateOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1))
      throw new RangeError('a tenant rate needs a positive rate and a burst of at least 1');
    this.now = options.now ?? (() => performance.now());
    this.maxTenants = options.maxTenants ?? 100_000;
  }

  /**
   * Spends `cost` of the tenant's tokens, or says when it could. A cost above the burst passes once
   * the bucket is full and leaves it in debt, so big batches get through yet count in full.
   */
  take(tenant: string, cost = 1): RateDecision {
    const now = this.now();
    const spend = Math.min(cost, this.options.burst);
    const bucket = this.buckets.get(tenant) ?? { tokens: this.options.burst, at: now };
    const tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.options.ratePerSecond);
    if (tokens < spend) {
      this.buckets.set(tenant, { tokens, at: now });
      return { allowed: false, retryAfterMs: ((spend - tokens) / this.options.ratePerSecond) * 1000 };
    }
    this.buckets.delete(tenant);
    this.buckets.set(tenant, { tokens: tokens - cost, at: now });
    if (this.buckets.size > this.maxTenants) this.forgetOldest();
    return { allowed: true };
  }

  /** Whether the tenant could spend `cost` now; spends nothing. */
  peek(tenant: string, cost = 1): RateDecision {
    const bucket = this.buckets.get(tenant);
    if (!bucket) return { allowed: true };
    const spend = Math.min(cost, this.options.burst);
    const tokens = Math.min(this.options.burst, bucket.tokens + ((this.now() - bucket.at) / 1000) * this.options.ratePerSecond);
    return tokens >= spend ? { allowed: true } : { allowed: false, retryAfterMs: ((spend - tokens) / this.options.ratePerSecond) * 1000 };
  }

  /** As `take`, throwing the tenant's 429 when it is over its budget. */
  enforce(tenant: string, cost = 1, what = 'requests'): void {
    const decision = this.take(tenant, cost);
    if (!decision.allowed) throw tenantRateLimited(decision.retryAfterMs, `this tenant sends ${what} faster than its share; retry later`);
  }

  /** Insertion order is last-use order (take re-inserts), so the first entries are the idlest. */
  private forgetOldest(): void {
    for (const tenant of this.buckets.keys()) {
      this.buckets.delete(tenant);
      if (this.buckets.size <= this.maxTenants) return;
    }
  }
}

/**
 * At most `limit` requests of one tenant in flight at once in this process: a tenant whose calls
 * are slow (argon2, a big export) holds its own slots, never everyone's. Work that costs several
 * ordinary requests' worth (an imported hash with heavy parameters) holds several slots: what a
 * tenant may have in flight is bounded in work, not in count. Work heavier than the whole share
 * still runs, but only while the tenant has nothing else in flight.
 */
export class TenantConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly heavy = new Set<string>();

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('a concurrency limit must be at least 1');
  }

  async run<T>(tenant: string, work: () => Promise<T>, what = 'requests', weight = 1): Promise<T> {
    const current = this.inFlight.get(tenant) ?? 0;
    if (current > 0 && current + weight > this.limit) throw tooManyInFlight(what);
    this.inFlight.set(tenant, current + weight);
    try {
      return await work();
    } finally {
      this.release(tenant, weight);
    }
  }

  /**
   * Extra weight for work that already holds a slot (an imported hash heavier than ours, found
   * only once the sign-in runs). Asking for the full weight let six such sign-ins each hold one
   * slot and each be refused the rest, so nobody ever verified; instead one at a time per tenant
   * goes ahead, taking as many of the still-free slots as it weighs, and any other is refused
   * at once.
   */
  async runHeavy<T>(tenant: string, work: () => Promise<T>, what: string, weight: number): Promise<T> {
    if (this.heavy.has(tenant)) throw tooManyInFlight(what);
    const current = this.inFlight.get(tenant) ?? 0;
    const taken = Math.max(0, Math.min(weight, this.limit - current));
    this.heavy.add(tenant);
    if (taken > 0) this.inFlight.set(tenant, current + taken);
    try {
      return await work();
    } finally {
      this.heavy.delete(tenant);
      this.release(tenant, taken);
    }
  }

  inFlightFor(tenant: string): number {
    return this.inFlight.get(tenant) ?? 0;
  }

  private release(tenant: string, weight: number): void {
    const left = (this.inFlight.get(tenant) ?? weight) - weight;
    if (left <= 0) this.inFlight.delete(tenant);
    else this.inFlight.set(tenant, left);
  }
}

function tooManyInFlight(what: string): ProblemError {
  return tenantRateLimited(1000, `this tenant has too many ${what} in flight; retry shortly`);
}
