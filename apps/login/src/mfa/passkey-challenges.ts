import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { RELAXED_COMMIT, WITHOUT_SYNCHRONOUS_COMMIT } from '#eventstore';

/** 32 random bytes for the authenticator to sign (the library encodes them base64url into the options). */
export const newChallenge = (): Uint8Array<ArrayBuffer> => new Uint8Array(randomBytes(32));

/** Long enough to find the passkey and touch it; short enough that a leaked challenge is soon worthless. */
export const CHALLENGE_TTL_S = 300;

/** A registration challenge, and the person on the account page it was issued to. */
export interface IssuedChallenge {
  readonly challenge: string;
  /** Always 'register' since sign-in challenges are sealed; kept in the payload, which says what it is for. */
  readonly purpose: 'register';
  readonly userId?: string;
}

/** A challenge as storage gave it back (a payload issue wrote), or undefined for anything else. */
export function issuedChallengeOf(payload: unknown): IssuedChallenge | undefined {
  const found = payload as Partial<IssuedChallenge> | null | undefined;
  if (!found || typeof found.challenge !== 'string' || found.purpose !== 'register') return undefined;
  if (found.userId !== undefined && typeof found.userId !== 'string') return undefined;
  return { challenge: found.challenge, purpose: found.purpose, ...(found.userId !== undefined ? { userId: found.userId } : {}) };
}

/**
 * The challenges of passkey registrations, kept where the sessions they belong to are kept
 * (login_oidc_models, model PasskeyChallenge, scoped by tenant, expiring like them and cleaned up
 * with them). `binding` names the session (`account:{session uid}`): the browser proves it holds
 * that session by its cookie, so a challenge answers only there. Taking a challenge deletes it:
 * each is used once, whether the answer verifies or not; asking again replaces the one
 * outstanding. (Sign-in challenges are sealed instead, see SignInChallenges: a sign-in page
 * carries one, and a page view must write nothing.)
 */
export class PasskeyChallenges {
  constructor(private readonly pool: Pool) {}

  /**
   * Stores `challenge` (base64url, as the options carry it) as the one outstanding for `binding`.
   * Its commit does not wait for the WAL's fsync: a crash that loses it only makes the page ask
   * for options again (see restartable).
   */
  async issue(tenantId: string, binding: string, challenge: string, userId?: string): Promise<void> {
    const payload: IssuedChallenge = { challenge, purpose: 'register', ...(userId ? { userId } : {}) };
    await this.pool.query({
      name: 'login_passkey_challenge_issue',
      text: `WITH issued AS (INSERT INTO login_oidc_models (tenant_id, model, id, payload, expires_at)
        VALUES ($1, 'PasskeyChallenge', $2, $3, now() + make_interval(secs => $4))
        ON CONFLICT (tenant_id, model, id) DO UPDATE SET payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at)
        ${WITHOUT_SYNCHRONOUS_COMMIT}`,
      values: [tenantId, binding, JSON.stringify(payload), CHALLENGE_TTL_S],
    });
  }

  /**
   * The outstanding challenge of `binding`, gone from storage once taken; undefined when none or
   * expired. Each answers once, yet this commit need not wait for the WAL's fsync either: whatever
   * an answer achieves (a passkey registered, used or refused) is an event whose durable append
   * flushes the WAL past this delete first. A crash can only lose a take that achieved nothing,
   * and the challenge it brings back is one no sign-in has used.
   */
  async take(tenantId: string, binding: string): Promise<IssuedChallenge | undefined> {
    const { rows } = await this.pool.query<{ payload: IssuedChallenge; live: boolean }>({
      name: 'login_passkey_challenge_take',
      // set_config runs once per row taken; taking none writes nothing, so there is no commit to wait for.
      text: `WITH taken AS (DELETE FROM login_oidc_models WHERE tenant_id = $1 AND model = 'PasskeyChallenge' AND id = $2
        RETURNING payload, expires_at > now() AS live)
        SELECT payload, live, ${RELAXED_COMMIT} AS relaxed FROM taken`,
      values: [tenantId, binding],
    });
    const found = rows[0];
    return found?.live ? issuedChallengeOf(found.payload) : undefined;
  }
}

/** The check the WebAuthn library runs on the challenge the browser signed: in constant time, as for every secret compared. */
export function sameChallenge(expected: string): (signed: string) => boolean {
  const wanted = Buffer.from(expected);
  return (signed) => {
    const presented = Buffer.from(signed);
    return presented.length === wanted.length && timingSafeEqual(presented, wanted);
  };
}
