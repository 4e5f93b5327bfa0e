/**
 * argon2id with OWASP's minimum recommended parameters (19 MiB, 2 passes, 1 lane). Register hashes
 * with them; login verifies these hashes on every sign-in (and hashes a dummy with the same cost
 * for unknown addresses), so the cost is what one core can afford per attempt.
 */
// `algorithm: 2` is Algorithm.Argon2id: the package's enum is a const enum that isolated modules cannot inline.
export const ARGON2ID_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * The longest password register accepts, in code points. Login refuses a longer one before any
 * argon2id work: it cannot match a stored hash, so hashing it would only spend a core for an attacker.
 */
export const PASSWORD_MAX_LENGTH = 256;
