import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { CHALLENGE_TTL_S } from './passkey-challenges';

const NONCE_BYTES = 12;
const UNTIL_BYTES = 4;
const MAC_BYTES = 16;
/** 32 bytes, as a stored challenge was: the nonce, when it expires, and the MAC over both and what it is bound to. */
const CHALLENGE_BYTES = NONCE_BYTES + UNTIL_BYTES + MAC_BYTES;

/** A sign-in challenge login issued, opened: its id (the nonce, base64url), until when it answers, and for whom. */
export interface OpenedChallenge {
  readonly id: string;
  readonly until: Date;
  /** The person it was issued for (the second step); undefined: whoever's passkey answers. */
  readonly userId?: string;
}

/**
 * The challenges of passkey sign-ins, sealed instead of stored: a random nonce and an expiry,
 * authenticated by an HMAC that binds them to the tenant, the interaction (whose cookie the
 * browser must hold to post an answer) and, at the second step, the person. Issuing one writes
 * nothing, so a sign-in page carries its challenge (the browser's passkey autofill starts as the
 * page loads, with no request first) and no page view or options request costs a write anyone
 * can cause. That a challenge answers once is the person's factors' to decide: the sign-in it
 * answers records its id (PasskeyUsed or PasskeyRefused), and a second answer to it is refused
 * (see decidePasskey); its interaction ends with the sign-in too.
 */
export class SignInChallenges {
  private readonly key: KeyObject;

  constructor(
    secret: Buffer,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.key = createSecretKey(secret);
  }

  /** A challenge (base64url, as WebAuthn options carry it) for interaction `uid`; for `userId` only, when given. */
  issue(tenantId: string, uid: string, userId?: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const until = Buffer.alloc(UNTIL_BYTES);
    until.writeUInt32BE(Math.floor(this.clock().getTime() / 1000) + CHALLENGE_TTL_S);
    return Buffer.concat([nonce, until, this.mac(tenantId, uid, userId, nonce, until)]).toString('base64url');
  }

  /**
   * The challenge an authenticator signed, if login issued it for this tenant and interaction and
   * it has not expired: one for whoever's passkey, or one for `expectedUserId` (the person at the
   * second step). Undefined for anything else, whatever the string.
   */
  open(tenantId: string, uid: string, challenge: string, expectedUserId?: string): OpenedChallenge | undefined {
    if (challenge.length !== Math.ceil((CHALLENGE_BYTES * 4) / 3)) return undefined;
    const bytes = Buffer.from(challenge, 'base64url');
    if (bytes.length !== CHALLENGE_BYTES || bytes.toString('base64url') !== challenge) return undefined;
    const nonce = bytes.subarray(0, NONCE_BYTES);
    const until = bytes.subarray(NONCE_BYTES, NONCE_BYTES + UNTIL_BYTES);
    const presented = bytes.subarray(NONCE_BYTES + UNTIL_BYTES);
    const expiresAt = new Date(until.readUInt32BE() * 1000);
    if (expiresAt.getTime() <= this.clock().getTime()) return undefined;
    const id = nonce.toString('base64url');
    if (timingSafeEqual(presented, this.mac(tenantId, uid, undefined, nonce, until))) return { id, until: expiresAt };
    if (expectedUserId !== undefined && timingSafeEqual(presented, this.mac(tenantId, uid, expectedUserId, nonce, until)))
      return { id, until: expiresAt, userId: expectedUserId };
    return undefined;
  }

  private mac(tenantId: string, uid: string, userId: string | undefined, nonce: Buffer, until: Buffer): Buffer {
    // Lengths first: no two bindings run into each other (a uid with a bar in it cannot pose as another's).
    const bound = [tenantId, uid, userId ?? ''].map((part) => `${part.length}:${part}`).join('|');
    return createHmac('sha256', this.key).update(bound).update(nonce).update(until).digest().subarray(0, MAC_BYTES);
  }
}

/** The challenge an assertion's clientDataJSON carries (base64url JSON), or undefined when it carries none. */
export function signedChallengeOf(clientDataJSON: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown } | null;
    return typeof parsed?.challenge === 'string' ? parsed.challenge : undefined;
  } catch {
    return undefined;
  }
}
