import { ExpiringLruCache } from '#platform';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { TenantRef } from '../register.ports';
import { TenantRow } from './tenant.entity';
import { hashKey } from '#contracts';

export interface TenantRecord extends TenantRef {
  readonly apiKeyHash: string;
}

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
    const record = { tenantId: row.tenantId, slug: row.slug, name: row.name, apiKeyHash: row.apiKeyHash };
    this.cache.set(slug, record);
    return record;
  }

  /** Which tenant an API key belongs to, to tell "wrong tenant" (403) from "no such key" (401). */
  async slugOfApiKey(apiKey: string): Promise<string | undefined> {
    const row = await this.dataSource.getRepository(TenantRow).findOneBy({ apiKeyHash: hashKey(apiKey) });
    return row?.slug;
  }
}
