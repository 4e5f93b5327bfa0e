import { jwtVerify, SignJWT } from 'jose';

export interface AccessTokenClaims {
  readonly tenantId: string;
  readonly userId: string;
}

/** Checks a bearer token presented to /t/{tenant}/me and says whose it is. */
export abstract class AccessTokenVerifier {
  /** The claims, or undefined when the token is not valid (bad signature, expired, malformed). */
  abstract verify(token: string): Promise<AccessTokenClaims | undefined>;
}

const TEST_ISSUER = 'tessera:register:test';

/**
 * Accepts HS256 tokens signed with REGISTER_TEST_TOKEN_SECRET. Exists so register can be tested
 * before login issues real access tokens; it is only wired when that variable is set, and the
 * config refuses it in production.
 */
export class TestTokenVerifier extends AccessTokenVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    super();
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: TEST_ISSUER, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.tid !== 'string') return undefined;
      return { tenantId: payload.tid, userId: payload.sub };
    } catch {
      return undefined;
    }
  }
}

/** Issues a token TestTokenVerifier accepts (tests only). */
export function signTestToken(secret: string, claims: AccessTokenClaims, expiresIn = '15m'): Promise<string> {
  return new SignJWT({ tid: claims.tenantId })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(TEST_ISSUER)
    .setSubject(claims.userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** When no verifier is configured every /me call is refused rather than trusted. */
export class NoAccessTokens extends AccessTokenVerifier {
  async verify(): Promise<AccessTokenClaims | undefined> {
    return undefined;
  }
}
