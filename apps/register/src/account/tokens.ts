import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Mailed tokens are `<userId>.<secret>`: the user id finds the account stream directly (no lookup
 * table to keep consistent), the secret proves possession. Only the secret's SHA-256 is stored;
 * the secret has 256 bits of entropy, so a slow hash would add nothing.
 */
export interface IssuedToken {
  readonly token: string;
  readonly tokenHash: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function issueToken(userId: string): IssuedToken {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${userId}.${secret}`, tokenHash: hashSecret(secret) };
}

export function parseToken(token: string): { userId: string; tokenHash: string } | undefined {
  const dot = token.indexOf('.');
  if (dot < 0) return undefined;
  const userId = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  if (!UUID.test(userId) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  return { userId, tokenHash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function sameSecretHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
