export { AccessTokenVerifier, NoAccessTokens, TESSERA_API_AUDIENCE, type AccessTokenClaims } from './access-token';
export { LoginJwksVerifier, type LoginJwksVerifierOptions } from './login-jwks-verifier';
