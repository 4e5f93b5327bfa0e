// The port lives in libs/access, beside login's verifier; register's modules keep importing it from here.
export { AccessTokenVerifier, NoAccessTokens, type AccessTokenClaims } from '#access';
