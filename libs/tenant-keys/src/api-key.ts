import { hashKey, keyByHash, type TenantKeyRing } from '#contracts';
import { ProblemError } from '#platform';
import type { TenantKeyEntry, TenantKeyLookup } from './tenant-key-lookup';

export interface ApiKeyOptions {
  /** How this route takes the key, said to a caller who sent none. */
  readonly howToSend: string;
  /**
   * The tenant's ring from its stream, asked only when the table knows no key with the presented
   * hash: a service that answers for a tenant before its projection has it (rewards, right after
   * the tenant or key was created) still takes the key.
   */
  readonly keyRing?: () => Promise<TenantKeyRing | undefined>;
}

/** 401 for a missing or refused bearer credential, with the challenge RFC 6750 asks for. */
export function bearerUnauthorized(detail: string): ProblemError {
  return new ProblemError({
    status: 401,
    type: 'unauthorized',
    title: 'Authentication required',
    detail,
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
}

// What register issues: a prefix and 192 bits or more in base64url. Only such strings are worth a stream read.
const KEY_SHAPE = /^t(?:sk|wk|ss)_[A-Za-z0-9_-]{32,86}$/;

/**
 * The API key of `tenantId`, or the problem to answer: 401 for no key, an unknown, revoked or
 * expired key, or a key of another kind (a write key never reads); 403 for a valid API key of
 * another tenant, so that a misconfigured client learns why.
 */
export async function authorizeApiKey(
  keys: TenantKeyLookup,
  tenantId: string,
  presented: string | undefined,
  options: ApiKeyOptions,
): Promise<TenantKeyEntry> {
  if (!presented) throw bearerUnauthorized(options.howToSend);
  const entry = (await keys.find(presented)) ?? (await fromKeyRing(keys, tenantId, presented, options));
  if (!entry || !keys.isValid(entry)) throw bearerUnauthorized('the API key is not valid');
  if (entry.kind !== 'api') throw bearerUnauthorized(`this is a ${entry.kind} key, not an API key`);
  if (entry.tenantId !== tenantId) {
    throw new ProblemError({
      status: 403,
      type: 'forbidden',
      title: 'Not allowed for this tenant',
      detail: 'this API key belongs to another tenant',
    });
  }
  return entry;
}

async function fromKeyRing(
  keys: TenantKeyLookup,
  tenantId: string,
  presented: string,
  options: ApiKeyOptions,
): Promise<TenantKeyEntry | undefined> {
  if (!options.keyRing || !KEY_SHAPE.test(presented)) return undefined;
  const keyHash = hashKey(presented);
  const key = keyByHash((await options.keyRing()) ?? { keys: [] }, keyHash);
  if (!key) return undefined;
  const entry: TenantKeyEntry = {
    tenantId,
    keyId: key.keyId,
    kind: key.kind,
    validUntil: key.validUntil === null ? null : Date.parse(key.validUntil),
  };
  keys.remember(keyHash, entry);
  return entry;
}
