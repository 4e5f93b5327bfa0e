import { Inject, Injectable } from '@nestjs/common';
import { TenantConcurrencyLimiter, TenantRateLimiter } from '#platform';
import { REWARDS_SETTINGS, type RewardsSettings } from '../rewards.ports';
import { TenantAccess, type IncomingRequest } from '../tenants/tenant-access';
import type { TenantRecord } from '../tenants/tenant-directory';

/**
 * Every rewards call, as one tenant's share of this replica: the tenant's API key first (so that
 * nobody spends a tenant's budget but the tenant), then at most `concurrency` of its calls in
 * flight, and writes within a token bucket. A tenant hammering redemptions or catalog writes gets
 * 429 with Retry-After; every other tenant's calls go on as before, on their own budgets.
 */
@Injectable()
export class TenantCalls {
  private readonly writes: TenantRateLimiter;
  private readonly inFlight: TenantConcurrencyLimiter;

  constructor(
    private readonly access: TenantAccess,
    @Inject(REWARDS_SETTINGS) settings: RewardsSettings,
  ) {
    const { writesPerSecond, writeBurst, concurrency } = settings.fairness;
    this.writes = new TenantRateLimiter({ ratePerSecond: writesPerSecond, burst: writeBurst });
    this.inFlight = new TenantConcurrencyLimiter(concurrency);
  }

  async read<T>(request: IncomingRequest, slug: string, work: (tenant: TenantRecord) => Promise<T>): Promise<T> {
    const tenant = await this.authorized(request, slug);
    return this.inFlight.run(tenant.tenantId, () => work(tenant), 'calls');
  }

  async write<T>(request: IncomingRequest, slug: string, work: (tenant: TenantRecord) => Promise<T>): Promise<T> {
    const tenant = await this.authorized(request, slug);
    this.writes.enforce(tenant.tenantId, 1, 'writes');
    return this.inFlight.run(tenant.tenantId, () => work(tenant), 'calls');
  }

  /**
   * A member's own call, by login's access token: answers whose it is, and lets this request (and
   * only this one: the mark is a symbol on the request object, which no header can set) make the
   * calls the tenant could make for that member, within the tenant's budget.
   */
  async asMember(request: IncomingRequest, slug: string): Promise<string> {
    const { tenant, userId } = await this.access.requirePerson(request, slug);
    (request as MarkedRequest)[MEMBER] = { slug, tenant };
    return userId;
  }

  private authorized(request: IncomingRequest, slug: string): Promise<TenantRecord> {
    const member = (request as MarkedRequest)[MEMBER];
    return member && member.slug === slug ? Promise.resolve(member.tenant) : this.access.requireApiKey(request, slug);
  }
}

const MEMBER = Symbol('rewards.member-call');
type MarkedRequest = IncomingRequest & { [MEMBER]?: { readonly slug: string; readonly tenant: TenantRecord } };
