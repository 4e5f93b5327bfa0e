import type { Pool } from 'pg';
import { ExpiringLruCache } from '#platform';
import { hashKey } from '#contracts';

export interface PulseTenant {
  readonly tenantId: string;
  readonly slug: string;
  readonly apiKeyHash: string;
}

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/**
 * Finds tenants by write key (tracking) and by slug (profiles API). The write key is looked up by
 * its SHA-256, an equality match on a hash of a 192-bit secret, so no timing of the lookup reveals
 * anything useful. Only hits are cached: a key created a moment ago must work as soon as pulse
 * has projected its tenant, and misses cost one indexed query.
 */
export class TenantKeys {
  private readonly byWriteKeyHash = new ExpiringLruCache<PulseTenant>(CACHE_MAX, CACHE_TTL_MS);
  private readonly bySlugCache = new ExpiringLruCache<PulseTenant>(CACHE_MAX, CACHE_TTL_MS);

  constructor(private readonly pool: Pool) {}

  async byWriteKey(writeKey: string): Promise<PulseTenant | undefined> {
    const hash = hashKey(writeKey);
    return this.cached(this.byWriteKeyHash, hash, 'write_key_hash');
  }

  async bySlug(slug: string): Promise<PulseTenant | undefined> {
    if (!/^[a-z0-9-]{1,63}$/.test(slug)) return undefined;
    return this.cached(this.bySlugCache, slug, 'slug');
  }

  private async cached(
    cache: ExpiringLruCache<PulseTenant>,
    key: string,
    column: 'write_key_hash' | 'slug',
  ): Promise<PulseTenant | undefined> {
    const hit = cache.get(key);
    if (hit) return hit;
    const { rows } = await this.pool.query<{ tenant_id: string; slug: string; api_key_hash: string }>(
      `SELECT tenant_id, slug, api_key_hash FROM pulse_tenants WHERE ${column} = $1`,
      [key],
    );
    const row = rows[0];
    if (!row) return undefined;
    const tenant = { tenantId: row.tenant_id, slug: row.slug, apiKeyHash: row.api_key_hash };
    cache.set(key, tenant);
    return tenant;
  }
}
