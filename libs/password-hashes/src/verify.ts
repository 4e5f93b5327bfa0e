import { createCipheriv, pbkdf2, scrypt, timingSafeEqual } from 'node:crypto';
import { verify as verifyArgon2 } from '@node-rs/argon2';
import { verify as verifyBcrypt } from '@node-rs/bcrypt';
import { parseLegacyHash, type HashRefusal, type LegacyPasswordHash } from './legacy-hash';

export type LegacyVerification =
  | { readonly kind: 'match' }
  | { readonly kind: 'mismatch' }
  /** Not a hash Tessera can verify (a read model row written by a bug, a hostile import); never a match. */
  | { readonly kind: 'refused'; readonly refusals: HashRefusal[] };

/**
 * Whether `password` is the one `stored` was made from. Never throws: whatever `stored` holds, the
 * answer is a match, a mismatch or a typed refusal. The work is what the (capped) parameters say.
 */
export async function verifyLegacyPassword(stored: unknown, password: string): Promise<LegacyVerification> {
  const parsed = parseLegacyHash(stored);
  if (!parsed.ok) return { kind: 'refused', refusals: parsed.refusals };
  try {
    return (await matches(parsed.hash, password)) ? { kind: 'match' } : { kind: 'mismatch' };
  } catch {
    // A library refusing what the parser let through (an argon2 salt it finds too short, say) is no match.
    return { kind: 'mismatch' };
  }
}

function matches(hash: LegacyPasswordHash, password: string): Promise<boolean> {
  switch (hash.format) {
    case 'bcrypt':
      // On libuv's thread pool, as argon2id is: a cost-14 hash would hold the event loop for a second in JavaScript.
      return verifyBcrypt(password, hash.hash);
    case 'pbkdf2-sha256':
    case 'pbkdf2-sha512':
      return pbkdf2Matches(hash, password);
    case 'firebase-scrypt':
      return firebaseScryptMatches(hash, password);
    case 'argon2i':
    case 'argon2id':
      return verifyArgon2(hash.hash, password);
  }
}

async function pbkdf2Matches(hash: Extract<LegacyPasswordHash, { format: 'pbkdf2-sha256' | 'pbkdf2-sha512' }>, password: string) {
  const expected = Buffer.from(hash.hash, 'base64');
  const digest = hash.format === 'pbkdf2-sha256' ? 'sha256' : 'sha512';
  const derived = await new Promise<Buffer>((resolve, reject) =>
    pbkdf2(Buffer.from(password, 'utf8'), Buffer.from(hash.salt, 'base64'), hash.iterations, expected.length, digest, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
  return timingSafeEqual(derived, expected);
}

/**
 * Firebase's scrypt variant (github.com/firebase/scrypt): the scrypt key of the password, salted
 * with the user's salt followed by the project's salt separator, is used as an AES-256-CTR key
 * (zero IV) to encrypt the project's signer key; the result is the stored hash.
 */
async function firebaseScryptMatches(hash: Extract<LegacyPasswordHash, { format: 'firebase-scrypt' }>, password: string) {
  const expected = Buffer.from(hash.hash, 'base64');
  const signerKey = Buffer.from(hash.signerKey, 'base64');
  const salt = Buffer.concat([Buffer.from(hash.salt, 'base64'), Buffer.from(hash.saltSeparator, 'base64')]);
  const N = 2 ** hash.memCost;
  const r = hash.rounds;
  const key = await new Promise<Buffer>((resolve, reject) =>
    // maxmem: what OpenSSL counts for N, r and p = 1, with room to spare (the parser capped N and r).
    scrypt(Buffer.from(password, 'utf8'), salt, 32, { N, r, p: 1, maxmem: 128 * r * (N + 3) + 1024 * 1024 }, (error, derived) =>
      error ? reject(error) : resolve(derived),
    ),
  );
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16, 0));
  const computed = Buffer.concat([cipher.update(signerKey), cipher.final()]);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}
