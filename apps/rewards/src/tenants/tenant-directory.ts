import { ExpiringLruCache } from '#platform';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventCodec } from '#cqrs';
import { hashKey, tenantStreamFor, type TenantEvent } from '#contracts';
import { EventStoreRef } from '../shared/event-store-ref';
import type { TenantRef } from '../rewards.ports';

export interface TenantRecord extends TenantRef {
  readonly apiKeyHash: string;
}

/**
 * Tenants as rewards knows them: from its projection of register's TenantCreated, or, for a
 * tenant created a moment ago that the projection has yet to reach, from register's tenant stream
 * (named by slug), so the first call after creating a tenant does not get a 404.
 */
@Injectable()
export class TenantDirectory {
  private readonly cache = new ExpiringLruCache<TenantRecord>(10_000, 30_000);

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStoreRef,
    private readonly codec: EventCodec,
  ) {}

  async bySlug(slug: string): Promise<TenantRecord | undefined> {
    const cached = this.cache.get(slug);
    if (cached) return cached;
    const rows: { tenant_id: string; api_key_hash: string }[] = await this.dataSource.query(
      'SELECT tenant_id, api_key_hash FROM rewards_tenants WHERE slug = $1',
      [slug],
    );
    const record = rows[0] ? { tenantId: rows[0].tenant_id, slug, apiKeyHash: rows[0].api_key_hash } : await this.fromRegisterStream(slug);
    if (!record) return undefined;
    this.cache.set(slug, record);
    return record;
  }

  /** Which tenant an API key belongs to, to tell "wrong tenant" (403) from "no such key" (401). */
  async slugOfApiKey(apiKey: string): Promise<string | undefined> {
    const rows: { slug: string }[] = await this.dataSource.query('SELECT slug FROM rewards_tenants WHERE api_key_hash = $1', [
      hashKey(apiKey),
    ]);
    return rows[0]?.slug;
  }

  private async fromRegisterStream(slug: string): Promise<TenantRecord | undefined> {
    const [recorded] = await this.store.readStream(tenantStreamFor(slug), { maxCount: 1 });
    if (!recorded || !this.codec.understands(recorded)) return undefined;
    const { event } = await this.codec.decode<TenantEvent>(recorded);
    return { tenantId: event.data.tenantId, slug: event.data.slug, apiKeyHash: event.data.apiKeyHash };
  }
}
