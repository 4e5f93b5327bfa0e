import { ExpiringLruCache, NO_BRANDING } from '#platform';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TenantRef } from '../register.ports';
import { TenantRow } from './tenant.entity';

export type TenantRecord = TenantRef;

/** Register's copy of every tenant's keys, by hash (see #tenant-keys). */
export const TENANT_KEYS_TABLE = 'register_tenant_keys';

/** Tenants by slug, from the read model, cached briefly: every request under /t/{tenant} needs one. */
@Injectable()
export class TenantDirectory {
  private readonly cache = new ExpiringLruCache<TenantRecord>(10_000, 30_000);

  constructor(private readonly dataSource: DataSource) {}

  async bySlug(slug: string): Promise<TenantRecord | undefined> {
    const cached = this.cache.get(slug);
    if (cached) return cached;
    const row = await this.dataSource.getRepository(TenantRow).findOneBy({ slug });
    if (!row) return undefined;
    const record = { tenantId: row.tenantId, slug: row.slug, name: row.name, branding: row.branding ?? NO_BRANDING };
    this.cache.set(slug, record);
    return record;
  }

  /** A tenant by id, for work that starts from an event rather than a request (the mails of an e-mail change). */
  async byId(tenantId: string): Promise<TenantRecord | undefined> {
    const row = await this.dataSource.getRepository(TenantRow).findOneBy({ tenantId });
    return row ? this.bySlug(row.slug) : undefined;
  }

  /** The tenant changed (its branding): this replica's next request reads it again. Others within the cache's 30 s. */
  forget(slug: string): void {
    this.cache.delete(slug);
  }
}
