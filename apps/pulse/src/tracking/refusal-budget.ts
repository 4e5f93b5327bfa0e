import { tenantRateLimited, type TenantRateLimiter } from '#platform';

/** What a refusal of the caller's making answers: the call itself was wrong, not the service. */
const REFUSALS = new Set([400, 413, 415, 422]);

export interface RefusalHold {
  /** How long a call of a tenant past its budget waits for its 429. */
  readonly ms: number;
  /** Calls of one tenant held at once in this process; past it the 429 comes at once. */
  readonly maxHeldPerTenant: number;
  /**
   * Body bytes of one tenant's held calls. A key in the body (analytics.js) is known only once the
   * body is read and parsed, and a held call keeps both: without this bound a tenant's held calls
   * could keep a quarter of a gigabyte alive. Past it such calls get their 429 at once.
   */
  readonly maxHeldBytesPerTenant: number;
}

interface Held {
  readonly calls: number;
  readonly bytes: number;
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
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly limiter?: TenantRateLimiter,
    private readonly hold: RefusalHold = { ms: 0, maxHeldPerTenant: 0, maxHeldBytesPerTenant: 0 },
  ) {}

  /**
   * Throws the tenant's 429 while its refusals exceed its budget, after the hold; spends nothing.
   * `bodyBytes`: what the call holds in memory while it waits (0 when its key came in a header).
   */
  async admit(tenantId: string, bodyBytes = 0): Promise<void> {
    const decision = this.limiter?.peek(tenantId);
    if (!decision || decision.allowed) return;
    const held = this.held.get(tenantId) ?? { calls: 0, bytes: 0 };
    const roomy = held.calls < this.hold.maxHeldPerTenant && held.bytes + bodyBytes <= this.hold.maxHeldBytesPerTenant;
    if (this.hold.ms > 0 && roomy) {
      this.held.set(tenantId, { calls: held.calls + 1, bytes: held.bytes + bodyBytes });
      try {
        await new Promise((resume) => setTimeout(resume, this.hold.ms));
      } finally {
        const now = this.held.get(tenantId) ?? { calls: 1, bytes: bodyBytes };
        if (now.calls <= 1) this.held.delete(tenantId);
        else this.held.set(tenantId, { calls: now.calls - 1, bytes: now.bytes - bodyBytes });
      }
    }
    throw tenantRateLimited(decision.retryAfterMs, 'this tenant sent more refused tracking calls than its share; fix them, then retry');
  }

  /** A call of the tenant was answered `status`: a refusal of its making spends from its budget. */
  answered(tenantId: string, status: number): void {
    if (REFUSALS.has(status)) this.limiter?.take(tenantId);
  }
}
