import { z } from 'zod';

/**
 * Password hashes made by the systems people move in from, as register's import takes them and
 * as events and login's read model keep them until the first sign-in replaces them by argon2id.
 *
 * Verifying one costs what its parameters say, and an importer chooses them: every format's work
 * is capped here, so an import cannot turn each sign-in into seconds of CPU (a bcrypt cost of 31
 * or a billion PBKDF2 iterations would pass any check that only reads the shape).
 */
export const LEGACY_HASH_FORMATS = ['bcrypt', 'pbkdf2-sha256', 'pbkdf2-sha512', 'firebase-scrypt', 'argon2i', 'argon2id'] as const;
export type LegacyHashFormat = (typeof LEGACY_HASH_FORMATS)[number];

/** The most work one verification of each format may ask for. */
export const LEGACY_HASH_LIMITS = {
  /** 2^14 Blowfish rounds: about a second of one core; Auth0 and most frameworks export 10 to 12. */
  bcryptCost: 14,
  /** Keycloak exported 27,500 (SHA-256) and 210,000 (SHA-512) by default; OWASP asks 600,000 for SHA-256. */
  pbkdf2Iterations: 1_000_000,
  /** Firebase's mem_cost is log2 of scrypt's N: 14 (16 MiB with rounds 8) is every project's default. */
  scryptMemCost: 15,
  scryptRounds: 16,
  /** 128 · N · r, the memory one scrypt verification holds. */
  scryptMemoryBytes: 64 * 1024 * 1024,
  /** argon2 memory in KiB, passes, lanes, and memory × passes (the work). */
  argon2MemoryKib: 65_536,
  argon2Passes: 10,
  argon2Lanes: 8,
  argon2Work: 262_144,
} as const;

/** Standard base64 (as Keycloak and Firebase export it), padded or not. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

function base64(what: string, minBytes: number, maxBytes: number) {
  return z
    .string()
    .max(Math.ceil(maxBytes / 3) * 4)
    .regex(BASE64, { message: `must be ${what} in base64` })
    .refine(
      (value) => {
        const bytes = Buffer.from(value, 'base64').length;
        return bytes >= minBytes && bytes <= maxBytes;
      },
      { message: `must decode to ${minBytes} to ${maxBytes} bytes` },
    );
}

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

const bcryptHash = z
  .object({
    format: z.literal('bcrypt'),
    hash: z
      .string()
      .max(60)
      .regex(BCRYPT, { message: 'must be a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash' })
      .refine((hash) => bcryptCost(hash) >= 4 && bcryptCost(hash) <= LEGACY_HASH_LIMITS.bcryptCost, {
        message: `must have a cost from 04 to ${LEGACY_HASH_LIMITS.bcryptCost}`,
      }),
  })
  .strict();

function bcryptCost(hash: string): number {
  return Number(BCRYPT.exec(hash)?.[1] ?? Number.NaN);
}

const pbkdf2Hash = z
  .object({
    format: z.enum(['pbkdf2-sha256', 'pbkdf2-sha512']),
    salt: base64('the salt', 1, 256),
    iterations: z.number().int().min(1).max(LEGACY_HASH_LIMITS.pbkdf2Iterations),
    /** The derived key; its length is the key length to derive (Keycloak: 64 bytes). */
    hash: base64('the derived key', 16, 128),
  })
  .strict();

const firebaseScryptHash = z
  .object({
    format: z.literal('firebase-scrypt'),
    hash: base64('the password hash', 1, 256),
    salt: base64('the salt', 1, 256),
    /** The project's hash parameters (Firebase console, "Password hash parameters"). */
    signerKey: base64('the signer key', 1, 256),
    saltSeparator: base64('the salt separator', 0, 64),
    rounds: z.number().int().min(1).max(LEGACY_HASH_LIMITS.scryptRounds),
    memCost: z.number().int().min(1).max(LEGACY_HASH_LIMITS.scryptMemCost),
  })
  .strict()
  .superRefine((value, context) => {
    if (128 * 2 ** value.memCost * value.rounds > LEGACY_HASH_LIMITS.scryptMemoryBytes) {
      context.addIssue({ code: 'custom', path: ['memCost'], message: 'with these rounds needs more than 64 MiB per verification' });
    }
    if (Buffer.from(value.hash, 'base64').length !== Buffer.from(value.signerKey, 'base64').length) {
      context.addIssue({ code: 'custom', path: ['hash'], message: 'must be as long as the signer key (it is the key, encrypted)' });
    }
  });

const ARGON2 =
  /^\$(argon2id|argon2i)\$(?:v=(16|19)\$)?m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,86})\$([A-Za-z0-9+/]{16,86})$/;

const argon2Hash = z
  .object({ format: z.enum(['argon2i', 'argon2id']), hash: z.string().max(256) })
  .strict()
  .superRefine((value, context) => {
    const problem = argon2Problem(value.format, value.hash);
    if (problem) context.addIssue({ code: 'custom', path: ['hash'], message: problem });
  });

function argon2Problem(format: 'argon2i' | 'argon2id', hash: string): string | undefined {
  const match = ARGON2.exec(hash);
  if (!match) return 'must be a PHC string such as $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>';
  if (match[1] !== format) return `is an ${match[1]} hash, not ${format}`;
  const [memory, passes, lanes] = [Number(match[3]), Number(match[4]), Number(match[5])];
  const limits = LEGACY_HASH_LIMITS;
  if (lanes < 1 || lanes > limits.argon2Lanes) return `must have 1 to ${limits.argon2Lanes} lanes (p)`;
  if (passes < 1 || passes > limits.argon2Passes) return `must have 1 to ${limits.argon2Passes} passes (t)`;
  if (memory < 8 * lanes || memory > limits.argon2MemoryKib) return `must use ${8 * lanes} to ${limits.argon2MemoryKib} KiB of memory (m)`;
  if (memory * passes > limits.argon2Work) return `must not ask for more than ${limits.argon2Work} KiB × passes of work`;
  return undefined;
}

/** What an import may send as `password`: one of the formats, each with what verifying it needs. */
export const legacyPasswordHash = z.discriminatedUnion('format', [bcryptHash, pbkdf2Hash, firebaseScryptHash, argon2Hash]);

/** The members of `legacyPasswordHash`, for a union that takes more input shapes (Keycloak's credential). */
export const legacyHashShapes = [bcryptHash, pbkdf2Hash, firebaseScryptHash, argon2Hash] as const;

export type LegacyPasswordHash = z.infer<typeof legacyPasswordHash>;

/** Why a value is not a hash Tessera can verify, located by a JSON pointer into it. */
export interface HashRefusal {
  readonly pointer: string;
  readonly message: string;
}

export type ParsedHash =
  { readonly ok: true; readonly hash: LegacyPasswordHash } | { readonly ok: false; readonly refusals: HashRefusal[] };

/** Reads a hash as an import sends it or a read model kept it; anything else is a refusal, never an exception. */
export function parseLegacyHash(input: unknown): ParsedHash {
  const result = legacyPasswordHash.safeParse(input);
  if (result.success) return { ok: true, hash: result.data };
  return {
    ok: false,
    refusals: result.error.issues.map((issue) => ({
      pointer: issue.path.map((segment) => `/${String(segment)}`).join(''),
      message: issue.message,
    })),
  };
}
