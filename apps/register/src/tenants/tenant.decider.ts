import { accept, reject, type Decider, type Decision } from '#cqrs';
import { BRANDING_FIELDS, brandingProblems, completeBranding, NO_BRANDING, type FieldError } from '#platform';
import {
  emptyKeyRing,
  evolveKeyRing,
  keyById,
  keyValidAt,
  TenantBrandingChanged,
  TenantCreated,
  TenantKeyIssued,
  TenantKeyRevoked,
  type TenantBranding,
  type TenantEvent,
  type TenantKey,
  type TenantKeyKind,
  type TenantKeyRing,
} from '#contracts';

export interface CreateTenant {
  readonly type: 'CreateTenant';
  readonly tenantId: string;
  readonly slug: string;
  readonly name: string;
  readonly apiKeyHash: string;
  readonly writeKeyHash: string;
  readonly now: Date;
}

export interface IssueTenantKey {
  readonly type: 'IssueTenantKey';
  readonly keyId: string;
  readonly kind: TenantKeyKind;
  readonly keyHash: string;
  readonly label: string | null;
  readonly now: Date;
}

/** A new key of the same kind and label, and the old one ending once the overlap has passed. */
export interface RotateTenantKey {
  readonly type: 'RotateTenantKey';
  readonly keyId: string;
  readonly overlapSeconds: number;
  readonly newKeyId: string;
  readonly newKeyHash: string;
  readonly now: Date;
}

export interface RevokeTenantKey {
  readonly type: 'RevokeTenantKey';
  readonly keyId: string;
  readonly now: Date;
}

/** The tenant's whole branding from now on: a field left null falls back to the default. */
export interface SetTenantBranding {
  readonly type: 'SetTenantBranding';
  readonly branding: TenantBranding;
  readonly now: Date;
}

export type TenantCommand = CreateTenant | IssueTenantKey | RotateTenantKey | RevokeTenantKey | SetTenantBranding;

export type TenantRejection =
  | { readonly kind: 'SlugTaken'; readonly slug: string }
  | { readonly kind: 'UnknownTenant' }
  | { readonly kind: 'UnknownKey'; readonly keyId: string }
  | { readonly kind: 'KeyIdTaken'; readonly keyId: string }
  | { readonly kind: 'KeyRevoked'; readonly keyId: string; readonly validUntil: string }
  | { readonly kind: 'KeyAlreadyEnding'; readonly keyId: string; readonly validUntil: string }
  | { readonly kind: 'OverlapOutOfRange'; readonly overlapSeconds: number; readonly max: number }
  | { readonly kind: 'LastApiKey'; readonly keyId: string }
  | { readonly kind: 'TooManyKeys'; readonly limit: number }
  | { readonly kind: 'InvalidBranding'; readonly problems: readonly FieldError[] };

type TenantDecision = Decision<TenantEvent, TenantRejection>;

export interface TenantState {
  readonly exists: boolean;
  readonly tenantId: string | null;
  readonly ring: TenantKeyRing;
  readonly branding: TenantBranding;
}

/** The longest a rotated key keeps working next to its successor: long enough for a monthly deploy, short enough to end. */
export const MAX_ROTATION_OVERLAP_SECONDS = 30 * 24 * 60 * 60;

/**
 * Keys a tenant may hold at once (not yet ended). Every one is a row and a cache entry in each
 * service; a tenant with more is not rotating, it is leaking. Rotation is exempt: it ends a key.
 */
export const MAX_LIVE_KEYS = 20;

/**
 * A tenant and its key ring. The stream is named by slug, so "slug is unique" is the stream's "no
 * stream yet". Key rules: only a key that is still valid can be rotated or revoked; a rotation's
 * overlap is 0 s to 30 days and applies to a key nothing has ended yet; revoking an API key must
 * leave the tenant one API key that nothing ends, so that its servers are never locked out by a slip.
 */
export const tenantDecider: Decider<TenantCommand, TenantEvent, TenantState, TenantRejection> = {
  initialState: () => ({ exists: false, tenantId: null, ring: emptyKeyRing, branding: NO_BRANDING }),
  evolve: (state, event) => ({
    exists: true,
    tenantId: event.type === 'TenantCreated' ? event.data.tenantId : state.tenantId,
    ring: evolveKeyRing(state.ring, event),
    branding: event.type === 'TenantBrandingChanged' ? event.data.branding : state.branding,
  }),
  decide(command, state) {
    if (command.type === 'CreateTenant') return create(command, state);
    if (!state.exists || state.tenantId === null) return reject({ kind: 'UnknownTenant' });
    switch (command.type) {
      case 'IssueTenantKey':
        return issue(command, state.tenantId, state.ring);
      case 'RotateTenantKey':
        return rotate(command, state.tenantId, state.ring);
      case 'RevokeTenantKey':
        return revoke(command, state.tenantId, state.ring);
      case 'SetTenantBranding':
        return brand(command, state.tenantId, state.branding);
    }
  },
};

function create(command: CreateTenant, state: TenantState): TenantDecision {
  if (state.exists) return reject({ kind: 'SlugTaken', slug: command.slug });
  return accept(
    TenantCreated({
      tenantId: command.tenantId,
      slug: command.slug,
      name: command.name,
      apiKeyHash: command.apiKeyHash,
      writeKeyHash: command.writeKeyHash,
      createdAt: command.now.toISOString(),
    }),
  );
}

function issue(command: IssueTenantKey, tenantId: string, ring: TenantKeyRing): TenantDecision {
  if (keyById(ring, command.keyId)) return reject({ kind: 'KeyIdTaken', keyId: command.keyId });
  if (ring.keys.filter((key) => keyValidAt(key, command.now)).length >= MAX_LIVE_KEYS)
    return reject({ kind: 'TooManyKeys', limit: MAX_LIVE_KEYS });
  return accept(
    TenantKeyIssued({
      tenantId,
      keyId: command.keyId,
      kind: command.kind,
      keyHash: command.keyHash,
      label: command.label,
      issuedAt: command.now.toISOString(),
      replaces: null,
    }),
  );
}

function rotate(command: RotateTenantKey, tenantId: string, ring: TenantKeyRing): TenantDecision {
  const { overlapSeconds, now } = command;
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_ROTATION_OVERLAP_SECONDS)
    return reject({ kind: 'OverlapOutOfRange', overlapSeconds, max: MAX_ROTATION_OVERLAP_SECONDS });
  const found = validKey(ring, command.keyId, now);
  if (!found.key) return reject(found.rejection);
  const { key } = found;
  if (key.validUntil !== null) return reject({ kind: 'KeyAlreadyEnding', keyId: key.keyId, validUntil: key.validUntil });
  if (keyById(ring, command.newKeyId)) return reject({ kind: 'KeyIdTaken', keyId: command.newKeyId });
  return accept(
    TenantKeyIssued({
      tenantId,
      keyId: command.newKeyId,
      kind: key.kind,
      keyHash: command.newKeyHash,
      label: key.label,
      issuedAt: now.toISOString(),
      replaces: key.keyId,
    }),
    TenantKeyRevoked({
      tenantId,
      keyId: key.keyId,
      revokedAt: now.toISOString(),
      effectiveAt: new Date(now.getTime() + overlapSeconds * 1000).toISOString(),
      reason: 'rotated',
    }),
  );
}

function revoke(command: RevokeTenantKey, tenantId: string, ring: TenantKeyRing): TenantDecision {
  const { now } = command;
  const found = validKey(ring, command.keyId, now);
  if (!found.key) return reject(found.rejection);
  const { key } = found;
  const openApiKeyRemains = ring.keys.some((other) => other.keyId !== key.keyId && other.kind === 'api' && other.validUntil === null);
  if (key.kind === 'api' && !openApiKeyRemains) return reject({ kind: 'LastApiKey', keyId: key.keyId });
  return accept(
    TenantKeyRevoked({ tenantId, keyId: key.keyId, revokedAt: now.toISOString(), effectiveAt: now.toISOString(), reason: 'revoked' }),
  );
}

/**
 * Branding rules (#platform `brandingProblems`): https URLs without quotes or credentials,
 * `#rrggbb` colours, a plain support address, a supported language. Every broken field is named
 * at once and nothing is stored; the same branding again changes nothing.
 */
function brand(command: SetTenantBranding, tenantId: string, current: TenantBranding): TenantDecision {
  const problems = brandingProblems(command.branding);
  if (problems.length > 0) return reject({ kind: 'InvalidBranding', problems });
  const branding = completeBranding(command.branding);
  if (BRANDING_FIELDS.every((field) => branding[field] === current[field])) return accept();
  return accept(TenantBrandingChanged({ tenantId, branding, changedAt: command.now.toISOString() }));
}

function validKey(ring: TenantKeyRing, keyId: string, now: Date): { key: TenantKey } | { key?: undefined; rejection: TenantRejection } {
  const key = keyById(ring, keyId);
  if (!key) return { rejection: { kind: 'UnknownKey', keyId } };
  if (!keyValidAt(key, now)) return { rejection: { kind: 'KeyRevoked', keyId, validUntil: key.validUntil! } };
  return { key };
}
