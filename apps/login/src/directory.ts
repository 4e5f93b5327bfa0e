import type { Pool } from 'pg';

export interface LoginTenant {
  readonly tenantId: string;
  readonly slug: string;
  readonly name: string;
}

export interface Credential {
  readonly userId: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly passwordHash: string;
  readonly givenName: string | null;
  readonly familyName: string | null;
  readonly locale: string | null;
}

const SLUG = /^[a-z0-9-]{1,63}$/;
const MAX_CACHED_TENANTS = 10_000;

/** Reads login's own read models (tenants, credentials), always scoped by tenant. */
export class LoginDirectory {
  /** Tenants never change once created (no rename event), so a found tenant can be remembered. */
  private readonly tenants = new Map<string, LoginTenant>();

  constructor(private readonly pool: Pool) {}

  async tenantBySlug(slug: string): Promise<LoginTenant | undefined> {
    if (!SLUG.test(slug)) return undefined;
    const cached = this.tenants.get(slug);
    if (cached) return cached;
    const found = await this.loadTenant(slug);
    if (found) {
      if (this.tenants.size >= MAX_CACHED_TENANTS) this.tenants.delete(this.tenants.keys().next().value as string);
      this.tenants.set(slug, found);
    }
    return found;
  }

  private async loadTenant(slug: string): Promise<LoginTenant | undefined> {
    const { rows } = await this.pool.query<{ tenant_id: string; slug: string; name: string }>(
      'SELECT tenant_id, slug, name FROM login_tenants WHERE slug = $1',
      [slug],
    );
    const row = rows[0];
    return row ? { tenantId: row.tenant_id, slug: row.slug, name: row.name } : undefined;
  }

  async credentialByEmailIndex(tenantId: string, emailIndex: string): Promise<Credential | undefined> {
    return this.credential('email_index = $2', tenantId, emailIndex);
  }

  async credentialById(tenantId: string, userId: string): Promise<Credential | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(userId)) return undefined;
    return this.credential('user_id = $2', tenantId, userId);
  }

  private async credential(where: string, tenantId: string, value: string): Promise<Credential | undefined> {
    const { rows } = await this.pool.query(
      `SELECT user_id, email, email_verified, password_hash, given_name, family_name, locale
       FROM login_credentials WHERE tenant_id = $1 AND ${where}`,
      [tenantId, value],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      userId: row.user_id,
      email: row.email,
      emailVerified: row.email_verified,
      passwordHash: row.password_hash,
      givenName: row.given_name,
      familyName: row.family_name,
      locale: row.locale,
    };
  }
}
