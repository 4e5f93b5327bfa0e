import { ExpiringLruCache } from '#platform';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventCodec } from '#cqrs';
import { tenantStreamFor, type TenantEvent, type TenantKeyRing } from '#contracts';
import { keyRingFromStream } from '#tenant-keys';
import { EventStoreRef } from '../shared/event-store-ref';
import type { TenantRef } from '../rewards.ports';

export type TenantRecord = TenantRef;

/** Rewards' copy of every tenant's keys, by hash (see #tenant-keys). */
export const TENANT_KEYS_TABLE = 'rewards_tenant_keys';

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
    const rows: { tenant_id: string }[] = await this.dataSource.query('SELECT tenant_id FROM rewards_tenants WHERE slug = $1', [slug]);
    const record = rows[0] ? { tenantId: rows[0].tenant_id, slug } : await this.fromRegisterStream(slug);
    if (!record) return undefined;
    this.cache.set(slug, record);
    return record;
  }

  /** The tenant's keys from register's stream, for a key the projection has yet to take in. */
  keyRing(slug: string): Promise<TenantKeyRing | undefined> {
    return keyRingFromStream(this.store, this.codec, slug);
  }

  private async fromRegisterStream(slug: string): Promise<TenantRecord | undefined> {
    const [recorded] = await this.store.readStream(tenantStreamFor(slug), { maxCount: 1 });
    if (!recorded || !this.codec.understands(recorded)) return undefined;
    const { event } = await this.codec.decode<TenantEvent>(recorded);
    return event.type === 'TenantCreated' ? { tenantId: event.data.tenantId, slug: event.data.slug } : undefined;
  }
}
