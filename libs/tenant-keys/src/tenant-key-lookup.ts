import type { Pool } from 'pg';
import { hashKey, type TenantKeyKind } from '#contracts';
import { ExpiringLruCache } from '#platform';
import { checkedTableName } from './tenant-key-rows';

/** A tenant key as a service's own table holds it, for checking a presented key. */
export interface TenantKeyEntry {
  readonly tenantId: string;
  readonly keyId: string;
  readonly kind: TenantKeyKind;
  /** Epoch milliseconds of the first instant the key is refused; null while nothing ends it. */
  readonly validUntil: number | null;
}

/**
 * How long a replica may answer from what it read of a key. A revocation reaches every replica's
 * table when its projection applies it (usually well under a second); an entry read before that
 * is served for at most this long. A scheduled end (a rotation's overlap) is honoured to the
 * millisecond whatever the cache holds: every entry carries its valid-until and is checked on use.
 */
export const TENANT_KEY_CACHE_TTL_MS = 5_000;

/** Longer than any key register issues; anything longer is not worth a hash. */
const MAX_KEY_LENGTH = 256;

export interface TenantKeyLookupOptions {
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  /** The clock validity is judged by (and the cache expires by), injected by tests. */
  readonly now?: () => number;
}

/**
 * Finds the key a caller presented in the service's `{service}_tenant_keys` table, by its SHA-256:
 * one hash, then a cache hit or one primary-key query. An equality match on the hash of a 192-bit
 * secret reveals nothing useful through its timing. Keys found are remembered (revoked ones too,
 * so a revoked key in use costs no query); unknown ones are not, since anyone can make them up and
 * a key issued a moment ago must work as soon as the projection has it. Concurrent misses on one
 * key share one query.
 */
export class TenantKeyLookup {
  private readonly cache: ExpiringLruCache<TenantKeyEntry>;
  private readonly loading = new Map<string, Promise<TenantKeyEntry | undefined>>();
  private readonly statement: string;
  private readonly now: () => number;

  constructor(
    private readonly db: Pick<Pool, 'query'>,
    table: string,
    options: TenantKeyLookupOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cache = new ExpiringLruCache(options.maxEntries ?? 10_000, options.ttlMs ?? TENANT_KEY_CACHE_TTL_MS, this.now);
    this.statement = `SELECT tenant_id, key_id, kind, (extract(epoch FROM valid_until) * 1000)::float8 AS valid_until_ms
      FROM ${checkedTableName(table)} WHERE key_hash = $1`;
  }

  /** The presented key as this service knows it, valid or not; undefined when it knows no such key. */
  find(presented: string): Promise<TenantKeyEntry | undefined> {
    if (presented.length > MAX_KEY_LENGTH) return Promise.resolve(undefined);
    return this.findByHash(hashKey(presented));
  }

  findByHash(keyHash: string): Promise<TenantKeyEntry | undefined> {
    const hit = this.cache.get(keyHash);
    if (hit) return Promise.resolve(hit);
    const pending = this.loading.get(keyHash);
    if (pending) return pending;
    const load = this.load(keyHash).finally(() => this.loading.delete(keyHash));
    this.loading.set(keyHash, load);
    return load;
  }

  /** Whether the key is accepted now: never past its valid-until, whatever the cache holds. */
  isValid(entry: TenantKeyEntry): boolean {
    return entry.validUntil === null || this.now() < entry.validUntil;
  }

  /** A key learnt from elsewhere (the tenant stream, ahead of the table). */
  remember(keyHash: string, entry: TenantKeyEntry): void {
    this.cache.set(keyHash, entry);
  }

  /** The key changed: the next use reads the table. */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }

  private async load(keyHash: string): Promise<TenantKeyEntry | undefined> {
    const { rows } = await this.db.query<{ tenant_id: string; key_id: string; kind: TenantKeyKind; valid_until_ms: number | null }>(
      this.statement,
      [keyHash],
    );
    const row = rows[0];
    if (!row) return undefined;
    const entry: TenantKeyEntry = { tenantId: row.tenant_id, keyId: row.key_id, kind: row.kind, validUntil: row.valid_until_ms };
    this.cache.set(keyHash, entry);
    return entry;
  }
}
