import type { Pool } from 'pg';
import type { TrackingSource } from '#contracts';
import { ExpiringLruCache } from '#platform';
import { TenantKeyLookup, type TenantKeyLookupOptions } from '#tenant-keys';

export interface PulseTenant {
  readonly tenantId: string;
  readonly slug: string;
}

/** Who sent a tracking call: the tenant, and the source whose key it came with. */
export interface TrackingSender {
  readonly tenantId: string;
  readonly source: TrackingSource;
}

/** Pulse's copy of every tenant's keys, by hash (see #tenant-keys). */
export const TENANT_KEYS_TABLE = 'pulse_tenant_keys';

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/**
 * Finds tenants by key (tracking, profiles, live view) and by slug (profiles API). Keys are checked
 * against pulse's own table through the shared lookup: a tracking call costs one hash and, but for
 * the first call of a key every few seconds, a cache hit. Slugs never change, so they are kept
 * longer; only hits are cached.
 */
export class TenantKeys {
  readonly keys: TenantKeyLookup;
  private readonly bySlugCache = new ExpiringLruCache<PulseTenant>(CACHE_MAX, CACHE_TTL_MS);

  constructor(
    private readonly pool: Pool,
    options: TenantKeyLookupOptions = {},
  ) {
    this.keys = new TenantKeyLookup(pool, TENANT_KEYS_TABLE, options);
  }

  /**
   * A tracking call's sender: a valid write key is a client source (it ships in web pages, anyone
   * may copy it), a valid server key a server source. API keys read; they do not track.
   */
  async sender(key: string): Promise<TrackingSender | undefined> {
    const entry = await this.keys.find(key);
    if (!entry || entry.kind === 'api' || !this.keys.isValid(entry)) return undefined;
    return { tenantId: entry.tenantId, source: { kind: entry.kind === 'server' ? 'server' : 'client', keyId: entry.keyId } };
  }

  /** The tenant of a valid write key: analytics.js asks for its settings by write key. */
  async byWriteKey(writeKey: string): Promise<{ readonly tenantId: string } | undefined> {
    const entry = await this.keys.find(writeKey);
    return entry && entry.kind === 'write' && this.keys.isValid(entry) ? { tenantId: entry.tenantId } : undefined;
  }

  async bySlug(slug: string): Promise<PulseTenant | undefined> {
    if (!/^[a-z0-9-]{1,63}$/.test(slug)) return undefined;
    const hit = this.bySlugCache.get(slug);
    if (hit) return hit;
    const { rows } = await this.pool.query<{ tenant_id: string }>('SELECT tenant_id FROM pulse_tenants WHERE slug = $1', [slug]);
    const row = rows[0];
    if (!row) return undefined;
    const tenant = { tenantId: row.tenant_id, slug };
    this.bySlugCache.set(slug, tenant);
    return tenant;
  }
}
