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
    const tenant = await this.access.requireApiKey(request, slug);
    return this.inFlight.run(tenant.tenantId, () => work(tenant), 'calls');
  }

  async write<T>(request: IncomingRequest, slug: string, work: (tenant: TenantRecord) => Promise<T>): Promise<T> {
    const tenant = await this.access.requireApiKey(request, slug);
    this.writes.enforce(tenant.tenantId, 1, 'writes');
    return this.inFlight.run(tenant.tenantId, () => work(tenant), 'calls');
  }
}
