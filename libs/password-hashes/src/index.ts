/**
 * Password hashes of other systems (bcrypt, PBKDF2 as Keycloak exports it, Firebase's scrypt,
 * argon2i/argon2id): what register's import accepts, with every format's work capped, and how
 * login verifies one on the sign-in that replaces it by argon2id. Pure functions, no Nest.
 */
export { importedPasswordHash, keycloakPasswordHash } from './keycloak';
export {
  LEGACY_HASH_FORMATS,
  LEGACY_HASH_LIMITS,
  type HashRefusal,
  type LegacyHashFormat,
  type LegacyPasswordHash,
  type ParsedHash,
  legacyPasswordHash,
  parseLegacyHash,
} from './legacy-hash';
export { type LegacyVerification, verifyLegacyPassword } from './verify';
export { legacyVerificationWork } from './work';
