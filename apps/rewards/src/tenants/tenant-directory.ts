import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EventCodec } from '../../../../libs/cqrs/src/event-codec';
import { tenantStreamFor } from '../../../register/src/account/account.streams';
import type { TenantEvent } from '../../../register/src/tenants/tenant.events';
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
  private readonly cache = new Map<string, { record: TenantRecord; until: number }>();
  private static readonly TTL_MS = 30_000;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStoreRef,
    private readonly codec: EventCodec,
  ) {}

  async bySlug(slug: string): Promise<TenantRecord | undefined> {
    const cached = this.cache.get(slug);
    if (cached && cached.until > Date.now()) return cached.record;
    const rows: { tenant_id: string; api_key_hash: string }[] = await this.dataSource.query(
      'SELECT tenant_id, api_key_hash FROM rewards_tenants WHERE slug = $1',
      [slug],
    );
    const record = rows[0] ? { tenantId: rows[0].tenant_id, slug, apiKeyHash: rows[0].api_key_hash } : await this.fromRegisterStream(slug);
    if (!record) return undefined;
    this.cache.set(slug, { record, until: Date.now() + TenantDirectory.TTL_MS });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return record;
  }

  /** Which tenant an API key belongs to, to tell "wrong tenant" (403) from "no such key" (401). */
  async slugOfApiKey(apiKey: string): Promise<string | undefined> {
    const rows: { slug: string }[] = await this.dataSource.query('SELECT slug FROM rewards_tenants WHERE api_key_hash = $1', [hashKey(apiKey)]);
    return rows[0]?.slug;
  }

  private async fromRegisterStream(slug: string): Promise<TenantRecord | undefined> {
    const [recorded] = await this.store.readStream(tenantStreamFor(slug), { maxCount: 1 });
    if (!recorded || !this.codec.understands(recorded)) return undefined;
    const { event } = await this.codec.decode<TenantEvent>(recorded);
    return { tenantId: event.data.tenantId, slug: event.data.slug, apiKeyHash: event.data.apiKeyHash };
  }
}

/** Register keeps SHA-256 hex of each key (256 random bits: a fast hash is enough). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function keyMatches(presented: string, expectedHash: string): boolean {
  const presentedHash = Buffer.from(hashKey(presented), 'hex');
  const expected = Buffer.from(expectedHash, 'hex');
  return presentedHash.length === expected.length && timingSafeEqual(presentedHash, expected);
}
