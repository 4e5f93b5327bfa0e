import { defineEvent, type EventOf } from '#cqrs';

/**
 * What a tenant key lets its holder do. A `write` key ships in web pages and apps (a client source:
 * anyone can copy it), a `server` key is a tracking source kept secret on the tenant's servers,
 * and an `api` key reads and administers the tenant's data through the services' APIs.
 */
export const TENANT_KEY_KINDS = ['write', 'server', 'api'] as const;
export type TenantKeyKind = (typeof TENANT_KEY_KINDS)[number];

/**
 * A tenant and the hashes of its keys. Pulse and login learn tenants from this event, so it carries
 * what they need to check a key (SHA-256 of it) and never a key itself. The two hashes are the
 * tenant's first keys, `initial-write` and `initial-api` in its key ring (see tenant-key-ring.ts).
 */
export const TenantCreated = defineEvent<{
  tenantId: string;
  slug: string;
  name: string;
  apiKeyHash: string;
  writeKeyHash: string;
  createdAt: string;
}>()('TenantCreated');

/** A key added to the tenant's ring; valid from now until a TenantKeyRevoked ends it. Only its SHA-256 is kept. */
export const TenantKeyIssued = defineEvent<{
  tenantId: string;
  keyId: string;
  kind: TenantKeyKind;
  keyHash: string;
  label: string | null;
  issuedAt: string;
  /** The key this one takes over from, when a rotation issued it. */
  replaces: string | null;
}>()('TenantKeyIssued');

/**
 * A key is refused from `effectiveAt` on: the moment of revocation, or the end of the overlap a
 * rotation gave the old key so that its holders can switch. A key given two ends ends at the earlier.
 */
export const TenantKeyRevoked = defineEvent<{
  tenantId: string;
  keyId: string;
  revokedAt: string;
  effectiveAt: string;
  reason: 'revoked' | 'rotated';
}>()('TenantKeyRevoked');

/**
 * How a tenant's hosted pages and mails look and which language they fall back to. Every field is
 * optional (null: the default theme's, the tenant's name, the installation's language). The rules
 * (https URLs, `#rrggbb` colours, a supported language) are #platform's `brandingProblems`; readers
 * still render only what passes them again.
 */
export interface TenantBranding {
  readonly displayName: string | null;
  readonly logoUrl: string | null;
  readonly primaryColor: string | null;
  readonly accentColor: string | null;
  readonly supportEmail: string | null;
  readonly termsUrl: string | null;
  readonly privacyUrl: string | null;
  readonly defaultLocale: string | null;
}

/** The tenant's whole branding from now on (not a patch): login and register render from the latest. */
export const TenantBrandingChanged = defineEvent<{
  tenantId: string;
  branding: TenantBranding;
  changedAt: string;
}>()('TenantBrandingChanged');

export type TenantEvent =
  | EventOf<typeof TenantCreated>
  | EventOf<typeof TenantKeyIssued>
  | EventOf<typeof TenantKeyRevoked>
  | EventOf<typeof TenantBrandingChanged>;
export const tenantEvents = [TenantCreated, TenantKeyIssued, TenantKeyRevoked, TenantBrandingChanged];
