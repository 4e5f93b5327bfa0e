import { tenantRateLimited, type TenantRateLimiter } from '#platform';

/** What a refusal of the caller's making answers: the call itself was wrong, not the service. */
const REFUSALS = new Set([400, 413, 415, 422]);

export interface RefusalHold {
  /** How long a call of a tenant past its budget waits for its 429. */
  readonly ms: number;
  /** Calls of one tenant held at once in this process; past it the 429 comes at once. */
  readonly maxHeldPerTenant: number;
}

/**
 * Each tenant's budget of refused tracking calls (INGEST_TENANT_REFUSALS_PER_SECOND and _BURST).
 * A refusal costs pulse a parse and a walk of the whole body, as much as a stored call, and a
 * tenant that sends nothing but poison can keep that up for ever. Past its budget a tenant gets
 * 429 with Retry-After for every call until the budget refills, and that answer is held back
 * (INGEST_TENANT_REFUSALS_HOLD_MS): a 429 still costs an HTTP exchange, and the noisy-neighbour
 * bench measured a client answered at once keeping up a thousand of them a second, a fifth of this
 * host, which is what a 404 costs too. Held, a client that waits for its answers (every SDK does)
 * sends one call per connection per hold. Holding costs a timer per call, capped per tenant so a
 * client that opens connections without end is answered at once and left to the ingress's
 * connection limits. Accepted calls spend nothing, so a client that sends valid calls never meets it.
 */
export class RefusalBudget {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly limiter?: TenantRateLimiter,
    private readonly hold: RefusalHold = { ms: 0, maxHeldPerTenant: 0 },
  ) {}

  /** Throws the tenant's 429 while its refusals exceed its budget, after the hold; spends nothing. */
  async admit(tenantId: string): Promise<void> {
    const decision = this.limiter?.peek(tenantId);
    if (!decision || decision.allowed) return;
    const held = this.held.get(tenantId) ?? 0;
    if (this.hold.ms > 0 && held < this.hold.maxHeldPerTenant) {
      this.held.set(tenantId, held + 1);
      try {
        await new Promise((resume) => setTimeout(resume, this.hold.ms));
      } finally {
        const left = (this.held.get(tenantId) ?? 1) - 1;
        if (left === 0) this.held.delete(tenantId);
        else this.held.set(tenantId, left);
      }
    }
    throw tenantRateLimited(decision.retryAfterMs, 'this tenant sent more refused tracking calls than its share; fix them, then retry');
  }

  /** A call of the tenant was answered `status`: a refusal of its making spends from its budget. */
  answered(tenantId: string, status: number): void {
    if (REFUSALS.has(status)) this.limiter?.take(tenantId);
  }
}
