/** The audience of access tokens meant for Tessera's APIs (register's /t/{tenant}/me). */
export const TESSERA_API_AUDIENCE = 'urn:tessera:api';

export interface AccessTokenClaims {
  readonly tenantId: string;
  readonly userId: string;
}

/** Checks a bearer token presented to a service's per-person endpoints and says whose it is. */
export abstract class AccessTokenVerifier {
  /** The claims, or undefined when the token is not valid (bad signature, expired, malformed). */
  abstract verify(token: string): Promise<AccessTokenClaims | undefined>;
}

/** When no verifier is configured every call is refused rather than trusted. */
export class NoAccessTokens extends AccessTokenVerifier {
  async verify(): Promise<AccessTokenClaims | undefined> {
    return undefined;
  }
}
