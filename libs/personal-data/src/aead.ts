import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { secretKeyObject } from './key-objects';

/** AES-256-GCM with a random 96-bit nonce: the one cipher of this layer, for data keys and data. */
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  readonly iv: Buffer;
  /** Ciphertext followed by the 16-byte authentication tag (as in JWE's compact form, joined). */
  readonly ct: Buffer;
}

/**
 * Nonces come from a pool of CSPRNG bytes filled 340 at a time: one random draw per seal costs
 * more than the AES-GCM of a small record. Every nonce is its own slice, never handed out twice,
 * and a spent pool is replaced rather than refilled, so a nonce already in use never changes.
 */
const NONCES_PER_POOL = 340;
let noncePool = Buffer.alloc(0);
let nonceOffset = 0;

function freshNonce(): Buffer {
  if (nonceOffset + IV_BYTES > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafe(IV_BYTES * NONCES_PER_POOL));
    nonceOffset = 0;
  }
  const nonce = noncePool.subarray(nonceOffset, nonceOffset + IV_BYTES);
  nonceOffset += IV_BYTES;
  return nonce;
}

/**
 * Random nonces are safe here because each key encrypts far fewer than 2^32 messages: a data key
 * belongs to one person and the wrapping key wraps one data key per person.
 */
export function aeadSeal(key: Buffer, plaintext: Buffer, associatedData: Buffer): Sealed {
  const iv = freshNonce();
  const cipher = createCipheriv(ALGORITHM, secretKeyObject(key), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, ct };
}

/** The plaintext, or undefined when anything (key, nonce, ciphertext, associated data) is off. */
export function aeadOpen(key: Buffer, sealed: Sealed, associatedData: Buffer): Buffer | undefined {
  if (sealed.iv.length !== IV_BYTES || sealed.ct.length < TAG_BYTES) return undefined;
  const body = sealed.ct.subarray(0, sealed.ct.length - TAG_BYTES);
  const tag = sealed.ct.subarray(sealed.ct.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, secretKeyObject(key), sealed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // GCM reports every authentication failure the same way; callers turn it into a typed error.
    return undefined;
  }
}

/** Packs a sealed value as one byte string: nonce, then ciphertext and tag. */
export function packSealed(sealed: Sealed): Buffer {
  return Buffer.concat([sealed.iv, sealed.ct]);
}

export function unpackSealed(packed: Buffer): Sealed {
  return { iv: packed.subarray(0, IV_BYTES), ct: packed.subarray(IV_BYTES) };
}
