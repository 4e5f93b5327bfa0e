import { hkdfSync } from 'node:crypto';
import { InvalidMasterKeyError } from './errors';

/** The one secret operators provide; every key of this layer is derived from it. */
export const MASTER_KEY_VARIABLE = 'TESSERA_MASTER_KEY';

const KEY_BYTES = 32;

/** Keys derived from the master key, one per purpose, so no key ever serves two algorithms. */
export interface PersonalDataKeys {
  /** AES-256-GCM key that wraps each subject's data key in the database. */
  readonly keyWrappingKey: Buffer;
  /** HMAC-SHA256 key of the blind index (e-mail lookups, stream names). */
  readonly blindIndexKey: Buffer;
  /**
   * HMAC-SHA256 key of the short-lived links services give each other (an export's parts, fetched by
   * register from the others): every service has the master key already, so no other secret is shared.
   */
  readonly internalLinkKey: Buffer;
}

// Versioned labels: changing one deliberately yields a new, unrelated key.
const KEY_WRAPPING_INFO = 'tessera/personal-data/key-wrapping/v1';
const BLIND_INDEX_INFO = 'tessera/personal-data/blind-index/v1';
const INTERNAL_LINK_INFO = 'tessera/internal-links/v1';

/**
 * Reads the master key as operators write it: 64 hex characters, or base64 / base64url (padded or
 * not). Anything else fails with an error naming the variable but never echoing its value.
 */
export function parseMasterKey(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = decodeBase64Strictly(trimmed);
  if (decoded?.length === KEY_BYTES) return decoded;
  throw new InvalidMasterKeyError(
    `${MASTER_KEY_VARIABLE} must be ${KEY_BYTES} random bytes written as base64, base64url or 64 hex characters ` +
      `(got ${trimmed.length} characters that are none of these); generate one with: openssl rand -base64 32`,
  );
}

/**
 * HKDF-SHA256 with distinct info labels. No salt: the master key is already uniformly random, which
 * is the case where RFC 5869 allows omitting it.
 */
export function deriveKeys(masterKey: Buffer): PersonalDataKeys {
  if (masterKey.length !== KEY_BYTES) throw new InvalidMasterKeyError(`${MASTER_KEY_VARIABLE} must be ${KEY_BYTES} bytes`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, KEY_BYTES));
  return {
    keyWrappingKey: derive(KEY_WRAPPING_INFO),
    blindIndexKey: derive(BLIND_INDEX_INFO),
    internalLinkKey: derive(INTERNAL_LINK_INFO),
  };
}

/**
 * Node's decoder silently skips characters it does not know, so a typo could still yield 32 bytes.
 * Accept only text that is exactly the canonical encoding of what it decodes to.
 */
function decodeBase64Strictly(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  const canonical = unpadded.replace(/\+/g, '-').replace(/\//g, '_');
  const bytes = Buffer.from(canonical, 'base64url');
  if (bytes.toString('base64url') !== canonical) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0) return undefined;
  return bytes;
}
