import { jwtVerify, SignJWT } from 'jose';
import { AccessTokenVerifier, type AccessTokenClaims } from '#access';

const TEST_ISSUER = 'tessera:register:test';

/**
 * Accepts HS256 tokens signed with REGISTER_TEST_TOKEN_SECRET. Exists so register can be tested
 * without a running login; it is only wired when that variable is set, and the config refuses it
 * in production and beside LOGIN_PUBLIC_URL.
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
