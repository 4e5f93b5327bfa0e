import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AccessTokenVerifier, type AccessTokenClaims } from '../../../register/src/access/access-token';
import { TESSERA_API_AUDIENCE } from '../oidc/provider-factory';

const SLUG = /^[a-z0-9-]{1,63}$/;
const MAX_ISSUERS = 1000;

/**
 * Verifies login's JWT access tokens for another service (register's /t/{tenant}/me): ES256,
 * `typ: at+jwt`, audience Tessera's API, issued by one of login's tenant issuers
 * ({LOGIN_PUBLIC_URL}/t/{slug}) and signed by a key of that issuer's JWKS (fetched and cached by
 * jose, refetched on an unknown kid so rotated keys are picked up). Only tokens issued to a
 * person pass: a client-credentials token has no person behind it.
 */
export class LoginJwksVerifier extends AccessTokenVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();
  private readonly base: string;
  private readonly jwksBase: string;
  private readonly audience: string;

  /**
   * @param loginPublicUrl LOGIN_PUBLIC_URL: what the tokens' `iss` starts with.
   * @param options.jwksBaseUrl where to fetch the JWKS from when the public URL is not reachable
   *   from this service (e.g. http://login:3001 inside a cluster); the issuer check is unchanged.
   */
  constructor(loginPublicUrl: string, options: { audience?: string; jwksBaseUrl?: string } = {}) {
    super();
    this.base = `${loginPublicUrl.replace(/\/$/, '')}/t/`;
    this.jwksBase = `${(options.jwksBaseUrl ?? loginPublicUrl).replace(/\/$/, '')}/t/`;
    this.audience = options.audience ?? TESSERA_API_AUDIENCE;
  }

  async verify(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const issuer = decodeJwt(token).iss;
      if (typeof issuer !== 'string' || !issuer.startsWith(this.base) || !SLUG.test(issuer.slice(this.base.length))) return undefined;
      const slug = issuer.slice(this.base.length);
      const { payload } = await jwtVerify(token, this.keysOf(slug), {
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

  private keysOf(slug: string): JWTVerifyGetKey {
    let keys = this.keySets.get(slug);
    if (!keys) {
      keys = createRemoteJWKSet(new URL(`${this.jwksBase}${slug}/jwks`));
      if (this.keySets.size >= MAX_ISSUERS) this.keySets.delete(this.keySets.keys().next().value as string);
      this.keySets.set(slug, keys);
    }
    return keys;
  }
}
