import { hash } from 'node:crypto';

/**
 * Tenant keys are random secrets of 192 bits or more, shown once. Only their SHA-256 is kept (in
 * events and every service's read models): with that much entropy a fast hash is as safe as a slow
 * one, and pulse can check a write key per tracking request without paying for argon2.
 */
// The one-shot hash: pulse hashes the write key of every tracking request, and a Hash object per call cost a few µs.
export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}
