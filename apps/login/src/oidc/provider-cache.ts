import type Provider from 'oidc-provider';
import { ExpiringLruCache } from '#platform';
import type { LoginTenant } from '../directory';

/**
 * Per-tenant providers, built on first use and evicted least-recently-used, so a process serving
 * thousands of tenants holds only the busy ones. Concurrent first requests share one build.
 */
export class ProviderCache {
  private readonly entries: ExpiringLruCache<Promise<Provider>>;

  constructor(
    capacity: number,
    private readonly build: (tenant: LoginTenant) => Promise<Provider>,
  ) {
    this.entries = new ExpiringLruCache(capacity, Number.POSITIVE_INFINITY);
  }

  get size(): number {
    return this.entries.size;
  }

  get(tenant: LoginTenant): Promise<Provider> {
    const cached = this.entries.get(tenant.tenantId);
    if (cached) return cached;
    const building = this.build(tenant);
    building.catch(() => this.entries.get(tenant.tenantId) === building && this.entries.delete(tenant.tenantId));
    this.entries.set(tenant.tenantId, building);
    return building;
  }

  /** Drops a tenant's provider, e.g. after its signing keys rotated. */
  evict(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}
