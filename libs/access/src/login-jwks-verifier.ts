import { decodeJwt, jwtVerify } from 'jose';
import { AccessTokenVerifier, TESSERA_API_AUDIENCE, type AccessTokenClaims } from './access-token';
import { defaultKeySetPolicy, TenantKeySets, type KeySetPolicy } from './tenant-key-sets';

const SLUG = /^[a-z0-9-]{1,63}$/;

export interface LoginJwksVerifierOptions extends Partial<KeySetPolicy> {
  /** Defaults to Tessera's API. */
  readonly audience?: string;
  /**
   * Where to fetch the key sets from when the public URL is not reachable from this service
   * (LOGIN_INTERNAL_URL, e.g. http://login:3001 inside a cluster); the issuer check is unchanged.
   */
  readonly jwksBaseUrl?: string;
}

/**
 * Verifies login's JWT access tokens for another service (register's /t/{tenant}/me): ES256,
 * `typ: at+jwt`, audience Tessera's API, issued by one of login's tenant issuers
 * (`{LOGIN_PUBLIC_URL}/t/{slug}`) and signed by a key in that issuer's JWKS. Key sets are cached
 * per tenant and refetched, at a bounded rate, when a token names a key id they do not hold
 * (login rotated the tenant's key). Only tokens issued to a person pass: a client-credentials
 * token has no person behind it.
 */
export class LoginJwksVerifier extends AccessTokenVerifier {
  private readonly issuerPrefix: string;
  private readonly audience: string;
  private readonly keySets: TenantKeySets;

  /** @param loginPublicUrl LOGIN_PUBLIC_URL: what the tokens' `iss` starts with. */
  constructor(loginPublicUrl: string, options: LoginJwksVerifierOptions = {}) {
    super();
    const { audience, jwksBaseUrl, ...policy } = options;
    this.issuerPrefix = `${loginPublicUrl.replace(/\/$/, '')}/t/`;
    this.audience = audience ?? TESSERA_API_AUDIENCE;
    const jwksPrefix = `${(jwksBaseUrl ?? loginPublicUrl).replace(/\/$/, '')}/t/`;
    this.keySets = new TenantKeySets((slug) => new URL(`${jwksPrefix}${slug}/jwks`), { ...defaultKeySetPolicy, ...policy });
  }

  async verify(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const issuer = decodeJwt(token).iss;
      if (typeof issuer !== 'string' || !issuer.startsWith(this.issuerPrefix)) return undefined;
      const slug = issuer.slice(this.issuerPrefix.length);
      if (!SLUG.test(slug)) return undefined;
      const { payload } = await jwtVerify(token, this.keySets.of(slug), {
        issuer,
        audience: this.audience,
        algorithms: ['ES256'],
        typ: 'at+jwt',
        requiredClaims: ['exp', 'sub', 'tid'],
      });
      if (payload.tessera_subject !== 'person' || typeof payload.sub !== 'string' || typeof payload.tid !== 'string') return undefined;
      return { tenantId: payload.tid, userId: payload.sub };
    } catch {
      return undefined;
    }
  }
}
