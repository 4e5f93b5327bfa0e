import type Provider from 'oidc-provider';
import type { LoginTenant } from '../directory';

/**
 * Per-tenant providers, built on first use and evicted least-recently-used, so a process serving
 * thousands of tenants holds only the busy ones. Concurrent first requests share one build.
 */
export class ProviderCache {
  private readonly entries = new Map<string, Promise<Provider>>();

  constructor(
    private readonly capacity: number,
    private readonly build: (tenant: LoginTenant) => Promise<Provider>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(tenant: LoginTenant): Promise<Provider> {
    const cached = this.entries.get(tenant.tenantId);
    if (cached) {
      // Map order is insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(tenant.tenantId);
      this.entries.set(tenant.tenantId, cached);
      return cached;
    }
    const building = this.build(tenant);
    building.catch(() => this.entries.get(tenant.tenantId) === building && this.entries.delete(tenant.tenantId));
    this.entries.set(tenant.tenantId, building);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return building;
  }

  /** Drops a tenant's provider, e.g. after its signing keys rotated. */
  evict(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}
