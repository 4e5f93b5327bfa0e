import { createSecretKey, type KeyObject } from 'node:crypto';

const keyObjects = new WeakMap<Buffer, KeyObject>();

/**
 * The KeyObject for a raw key, made once per Buffer. Node checks a raw key on every cipher or HMAC
 * it creates, which costs several times the AES-GCM of a small record; keys here are long-lived
 * Buffers (the cached data keys, the derived wrapping and index keys) that are never written to
 * after they are made, so one KeyObject each serves every use.
 */
export function secretKeyObject(key: Buffer): KeyObject {
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    keyObject = createSecretKey(key);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}
