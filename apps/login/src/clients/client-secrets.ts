import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OidcPayload } from '../oidc/postgres-adapter';
import type { ClientCache } from './client-cache';

export function newClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface PresentedCredentials {
  readonly clientId?: string;
  readonly secret?: string;
}

/**
 * oidc-provider authenticates a client by comparing the presented secret with the `client_secret`
 * of the metadata its adapter returns; it has no notion of a hashed secret. Login stores only
 * SHA-256 hashes, so the lookup compares the secret presented in the current request with the
 * hash (constant time) and hands the provider the presented secret when it matches, and a fresh
 * random one when it does not (the provider's own comparison then fails). No secret is ever read
 * from storage because none is stored.
 */
export function clientLookup(clients: ClientCache, presented: () => PresentedCredentials) {
  return async (tenantId: string, clientId: string): Promise<OidcPayload | undefined> => {
    const client = await clients.find(tenantId, clientId);
    if (!client || client.disabled) return undefined;
    if (!client.secretDigest) return { ...client.metadata };
    const credentials = presented();
    const matches =
      credentials.clientId === clientId && credentials.secret !== undefined && hashMatches(credentials.secret, client.secretDigest);
    return { ...client.metadata, client_secret: matches ? credentials.secret : newClientSecret() };
  };
}

function hashMatches(secret: string, expected: Buffer): boolean {
  const actual = hash('sha256', secret, 'buffer');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** The client id and secret of client_secret_basic (RFC 6749 §2.3.1: form-encoded, then Basic) or client_secret_post. */
export function presentedCredentialsOf(
  ctx: { headers?: Record<string, string | undefined>; oidc?: { body?: Record<string, unknown> } } | undefined,
): PresentedCredentials {
  if (!ctx) return {};
  const header = ctx.headers?.authorization;
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return {
          clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
          secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
        };
      } catch {
        return {};
      }
    }
  }
  const body = ctx.oidc?.body;
  if (body && typeof body.client_id === 'string' && typeof body.client_secret === 'string') {
    return { clientId: body.client_id, secret: body.client_secret };
  }
  return {};
}
