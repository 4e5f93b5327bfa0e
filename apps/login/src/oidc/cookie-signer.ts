import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signs and checks oidc-provider's cookies (Koa's `keys`) as keygrip does, HMAC-SHA1 in
 * base64url, so cookies signed before stay valid. keygrip compares a signature by HMAC-ing both
 * sides again under fresh random bytes; a sign-in checks and sets a dozen signed cookies, and
 * that comparison cost more than the signatures. Equal-length signatures are compared in
 * constant time here instead, with the key imported once.
 */
export class CookieSigner {
  private readonly key: KeyObject;

  constructor(secret: string) {
    this.key = createSecretKey(Buffer.from(secret));
  }

  sign(data: string): string {
    return createHmac('sha1', this.key).update(data).digest('base64url');
  }

  /** Which key signed `digest` (Koa's cookies ask this way): 0, or -1 for none. */
  index(data: string, digest: string): number {
    const expected = Buffer.from(this.sign(data));
    const presented = Buffer.from(String(digest));
    return presented.length === expected.length && timingSafeEqual(presented, expected) ? 0 : -1;
  }
}
