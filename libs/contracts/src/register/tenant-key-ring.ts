import { fold } from '#cqrs';
import type { TenantEvent, TenantKeyKind } from './tenant.events';

/** The ids TenantCreated's two hashes go by: every tenant created before key events had these two keys only. */
export const INITIAL_WRITE_KEY_ID = 'initial-write';
export const INITIAL_API_KEY_ID = 'initial-api';

/** One key of a tenant as every service sees it: never the key itself, only its SHA-256. */
export interface TenantKey {
  readonly keyId: string;
  readonly kind: TenantKeyKind;
  readonly keyHash: string;
  readonly label: string | null;
  readonly issuedAt: string;
  /** The first instant the key is refused; null while nothing has ended it. */
  readonly validUntil: string | null;
  readonly replaces: string | null;
}

/** A tenant's keys in the order they were issued, revoked ones included (they stay listed). */
export interface TenantKeyRing {
  readonly keys: readonly TenantKey[];
}

export const emptyKeyRing: TenantKeyRing = { keys: [] };

/**
 * The fold every consumer of the tenant stream shares: register decides on it, and pulse, rewards
 * and register project it into their own tables. Total over every tenant event, never throws: a key
 * issued twice keeps its first issue, an end for an unknown key changes nothing, and a key given
 * two ends ends at the earlier, so that a revocation can shorten a rotation's overlap but nothing
 * can lengthen a key's life.
 */
export function evolveKeyRing(ring: TenantKeyRing, event: TenantEvent): TenantKeyRing {
  if (event.type === 'TenantKeyRevoked') {
    const { keyId, effectiveAt } = event.data;
    if (!ring.keys.some((key) => key.keyId === keyId)) return ring;
    return {
      keys: ring.keys.map((key) => (key.keyId === keyId ? { ...key, validUntil: earliestEnd(key.validUntil, effectiveAt) } : key)),
    };
  }
  const issued = keysIssuedBy(event).filter((key) => !ring.keys.some((known) => known.keyId === key.keyId));
  return issued.length === 0 ? ring : { keys: [...ring.keys, ...issued] };
}

export function keyRingOf(events: Iterable<TenantEvent>): TenantKeyRing {
  return fold({ initialState: () => emptyKeyRing, evolve: evolveKeyRing }, events);
}

/** The keys an event adds to the ring, as they stand when added (projections insert these rows). */
export function keysIssuedBy(event: TenantEvent): TenantKey[] {
  switch (event.type) {
    case 'TenantCreated': {
      const { apiKeyHash, writeKeyHash, createdAt } = event.data;
      const initial = { label: null, issuedAt: createdAt, validUntil: null, replaces: null };
      return [
        { keyId: INITIAL_WRITE_KEY_ID, kind: 'write', keyHash: writeKeyHash, ...initial },
        { keyId: INITIAL_API_KEY_ID, kind: 'api', keyHash: apiKeyHash, ...initial },
      ];
    }
    case 'TenantKeyIssued': {
      const { keyId, kind, keyHash, label, issuedAt, replaces } = event.data;
      return [{ keyId, kind, keyHash, label: label ?? null, issuedAt, validUntil: null, replaces: replaces ?? null }];
    }
    default:
      return [];
  }
}

/** The end a key has once given `proposed` on top of the end it had. */
export function earliestEnd(current: string | null, proposed: string): string {
  return current !== null && Date.parse(current) <= Date.parse(proposed) ? current : proposed;
}

/**
 * Whether a key is accepted at `at`. A key is valid from the moment a service learns of it (its
 * issue is not compared with the reader's clock, which may run behind register's) until its end.
 */
export function keyValidAt(key: Pick<TenantKey, 'validUntil'>, at: Date): boolean {
  return key.validUntil === null || at.getTime() < Date.parse(key.validUntil);
}

export function keyById(ring: TenantKeyRing, keyId: string): TenantKey | undefined {
  return ring.keys.find((key) => key.keyId === keyId);
}

export function keyByHash(ring: TenantKeyRing, keyHash: string): TenantKey | undefined {
  return ring.keys.find((key) => key.keyHash === keyHash);
}
