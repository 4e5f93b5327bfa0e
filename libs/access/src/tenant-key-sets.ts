import { ExpiringLruCache } from '#platform';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export interface KeySetPolicy {
  /** Keys older than this are fetched again before use (default 10 minutes). */
  readonly maxAgeMs: number;
  /**
   * Per tenant, at most one fetch in this window that was caused by an unknown key id or followed
   * a failed fetch (default 30 s): tokens with made-up key ids cannot turn into a stream of fetches.
   */
  readonly refetchCooldownMs: number;
  /** How long a fetch may take (default 5 s). */
  readonly fetchTimeoutMs: number;
  /** Tenants whose keys are held at once, least recently used out first (default 1,000). */
  readonly maxTenants: number;
}

export const defaultKeySetPolicy: KeySetPolicy = {
  maxAgeMs: 10 * 60_000,
  refetchCooldownMs: 30_000,
  fetchTimeoutMs: 5000,
  maxTenants: 1000,
};

/** One tenant's JWKS: fetched on first use, refreshed when old, refetched (rate-bounded) on an unknown kid. */
class TenantKeySet {
  private keys?: JWTVerifyGetKey;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  /** Last fetch that was not a routine one (unknown kid, retry after failure). */
  private forcedAt = Number.NEGATIVE_INFINITY;
  private failedAt = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<void>;

  constructor(
    private readonly url: URL,
    private readonly policy: KeySetPolicy,
  ) {}

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const now = Date.now();
    if (!this.keys || now - this.fetchedAt > this.policy.maxAgeMs) {
      // Old keys keep verifying while a refresh fails; with none at all there is nothing to verify with.
      await this.fetch(now).catch((error: unknown) => {
        if (!this.keys) throw error;
      });
    }
    try {
      return await this.keys!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A kid we do not know: the tenant may have rotated its key since the last fetch.
      if (now - this.forcedAt < this.policy.refetchCooldownMs) throw error;
      this.forcedAt = now;
      await this.fetch(now);
      return this.keys!(header, token);
    }
  };

  private fetch(now: number): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (now - this.failedAt < this.policy.refetchCooldownMs) {
      return Promise.reject(new errors.JWKSTimeout('the key set could not be fetched recently; not trying again yet'));
    }
    this.inFlight = this.download()
      .then(
        (jwks) => {
          this.keys = createLocalJWKSet(jwks);
          this.fetchedAt = Date.now();
        },
        (error: unknown) => {
          this.failedAt = Date.now();
          throw error;
        },
      )
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async download(): Promise<JSONWebKeySet> {
    const response = await fetch(this.url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(this.policy.fetchTimeoutMs),
    });
    if (response.status !== 200) throw new errors.JOSEError(`key set answered ${response.status}`);
    const body = (await response.json()) as JSONWebKeySet;
    if (!body || !Array.isArray(body.keys)) throw new errors.JWKSInvalid('not a JSON Web Key Set');
    return body;
  }
}

/** The key sets of many tenants, each at `jwksUrlOf(slug)`, held in a bounded least-recently-used map. */
export class TenantKeySets {
  private readonly sets: ExpiringLruCache<TenantKeySet>;

  constructor(
    private readonly jwksUrlOf: (slug: string) => URL,
    private readonly policy: KeySetPolicy = defaultKeySetPolicy,
  ) {
    this.sets = new ExpiringLruCache(policy.maxTenants, Number.POSITIVE_INFINITY);
  }

  of(slug: string): JWTVerifyGetKey {
    let set = this.sets.get(slug);
    if (!set) {
      set = new TenantKeySet(this.jwksUrlOf(slug), this.policy);
      this.sets.set(slug, set);
    }
    return set.getKey;
  }
}
