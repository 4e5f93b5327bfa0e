import { ExpiringLruCache, NO_BRANDING, type Branding } from '#platform';
import type { Pool } from 'pg';

export interface LoginTenant {
  readonly tenantId: string;
  readonly slug: string;
  readonly name: string;
  /** How its pages look and their default language (register's TenantBrandingChanged; NO_BRANDING until set). */
  readonly branding: Branding;
}

export interface Credential {
  readonly userId: string;
  readonly email: string;
  readonly emailVerified: boolean;
  /** argon2id; null for an imported person whose old hash is not replaced yet, or who brought none. */
  readonly passwordHash: string | null;
  /** Another system's hash an import brought (#password-hashes reads it), until the first sign-in replaces it. */
  readonly legacyPassword: unknown;
  readonly givenName: string | null;
  readonly familyName: string | null;
  readonly locale: string | null;
}

const SLUG = /^[a-z0-9-]{1,63}$/;
const MAX_CACHED_TENANTS = 10_000;
/**
 * How long a replica keeps a tenant it read: a branding change reaches its pages within this of
 * login's projection applying it. One indexed read per tenant this often is nothing next to the
 * sign-ins it serves.
 */
const TENANT_CACHE_MS = 5_000;
/** The code step follows a sign-in within one redirect; a hand-over older than this is not used. */
const HAND_OVER_MS = 10_000;
const MAX_HANDED_OVER = 10_000;

/** Reads login's own read models (tenants, credentials), always scoped by tenant. */
export class LoginDirectory {
  /** A tenant's slug and id never change; its branding may, so a found tenant is remembered for TENANT_CACHE_MS. */
  private readonly tenants = new ExpiringLruCache<LoginTenant>(MAX_CACHED_TENANTS, TENANT_CACHE_MS);

  /**
   * Credentials a sign-in has just verified, each for the one lookup that follows: the code step
   * asks for the account again (oidc-provider's findAccount) a redirect after the sign-in read it
   * under the account's lock. Taken once, within seconds, in this replica only; any other lookup
   * reads the read model (which itself trails register's events by more than this hand-over).
   */
  private readonly handedOver = new Map<string, { credential: Credential; until: number }>();

  constructor(private readonly pool: Pool) {}

  handOver(tenantId: string, credential: Credential): void {
    const now = Date.now();
    // Oldest first (insertion order): drop the stale ones, and the oldest when full.
    for (const [key, entry] of this.handedOver) {
      if (entry.until > now && this.handedOver.size < MAX_HANDED_OVER) break;
      this.handedOver.delete(key);
    }
    const key = `${tenantId}|${credential.userId}`;
    this.handedOver.delete(key);
    // Without its hash: what follows wants the account's claims, never its password.
    this.handedOver.set(key, { credential: { ...credential, passwordHash: null, legacyPassword: null }, until: now + HAND_OVER_MS });
  }

  async tenantBySlug(slug: string): Promise<LoginTenant | undefined> {
    if (!SLUG.test(slug)) return undefined;
    const cached = this.tenants.get(slug);
    if (cached) return cached;
    const found = await this.loadTenant(slug);
    if (found) this.tenants.set(slug, found);
    return found;
  }

  private async loadTenant(slug: string): Promise<LoginTenant | undefined> {
    const { rows } = await this.pool.query<{ tenant_id: string; slug: string; name: string; branding: Branding | null }>(
      'SELECT tenant_id, slug, name, branding FROM login_tenants WHERE slug = $1',
      [slug],
    );
    const row = rows[0];
    return row ? { tenantId: row.tenant_id, slug: row.slug, name: row.name, branding: row.branding ?? NO_BRANDING } : undefined;
  }

  async credentialById(tenantId: string, userId: string): Promise<Credential | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(userId)) return undefined;
    const key = `${tenantId}|${userId}`;
    const handed = this.handedOver.get(key);
    if (handed) {
      this.handedOver.delete(key);
      if (handed.until > Date.now()) return handed.credential;
    }
    const { rows } = await this.pool.query<CredentialRow>({
      name: 'login_credential_by_id',
      text: `SELECT ${CREDENTIAL_COLUMNS} FROM login_credentials c WHERE tenant_id = $1 AND user_id = $2`,
      values: [tenantId, userId],
    });
    return credentialOf(rows[0]);
  }
}

/**
 * The branding of the tenant a hosted page's path names (`/t/{tenant}/…`), for the headers and
 * language its answer is sent with; the directory's cache makes this a memory read.
 */
export async function brandingOfPage(directory: LoginDirectory, request: { readonly params: unknown }): Promise<Branding | undefined> {
  const slug = (request.params as Record<string, unknown> | undefined)?.tenant;
  return typeof slug === 'string' ? (await directory.tenantBySlug(slug))?.branding : undefined;
}

/** The columns credentialOf reads, from login_credentials aliased `c` (login_account_state_locked returns them too: a new one needs a migration of it). */
export const CREDENTIAL_COLUMNS =
  'c.user_id, c.email, c.email_verified, c.password_hash, c.legacy_password, c.given_name, c.family_name, c.locale';

export interface CredentialRow {
  user_id: string | null;
  email: string;
  email_verified: boolean;
  password_hash: string | null;
  legacy_password: unknown;
  given_name: string | null;
  family_name: string | null;
  locale: string | null;
}

/** A credential from a row of CREDENTIAL_COLUMNS; undefined when there is none (no row, or an outer join found nothing). */
export function credentialOf(row: CredentialRow | undefined): Credential | undefined {
  if (!row?.user_id) return undefined;
  return {
    userId: row.user_id,
    email: row.email,
    emailVerified: row.email_verified,
    passwordHash: row.password_hash,
    legacyPassword: row.legacy_password,
    givenName: row.given_name,
    familyName: row.family_name,
    locale: row.locale,
  };
}
