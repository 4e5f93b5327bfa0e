import { hash } from '@node-rs/argon2';
import type { Pool, PoolClient } from 'pg';
import { fold } from '#cqrs';
import { advisoryLockKey, inTransaction } from '#eventstore';
import { blindIndex } from '#personal-data';
import { ARGON2ID_OPTIONS } from '#contracts';
import { credentialOf, type Credential, type CredentialRow, type LoginTenant } from '../directory';
import type { LoginEventLog } from '../login-events';
import { checkPassword, type LegacyPasswordRehash, type LegacyVerificationLane, type PasswordVerdict } from './legacy-rehash';
import { isLocked, lockoutDecider, type AccountThrottle } from './lockout.decider';
import { LoginFailed, signInStreamFor, type SignInEvent } from './sign-in.events';

const MAX_TRACKED_ADDRESSES = 100_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface SignInPolicy {
  readonly lockoutThreshold: number;
  readonly lockoutWindowMs: number;
  readonly lockoutCooldownMs: number;
  readonly ipFailureLimit: number;
  /** Whether the tenant lets a person with an unverified e-mail sign in. */
  readonly unverifiedEmail: (tenantSlug: string) => 'allow' | 'refuse';
}

type Refusal = { readonly ok: false; readonly reason: 'invalid_credentials' | 'locked' | 'throttled' | 'email_unverified' };

export type SignInOutcome =
  /**
   * The password is right: the caller records LoginSucceeded (to the sign-in stream of `accountKey`)
   * with the session it starts, in one write, once the sign-in is complete (a second factor may follow).
   */
  { readonly ok: true; readonly credential: Credential; readonly accountKey: string } | Refusal;

interface Attempt {
  readonly body: Record<string, unknown>;
  readonly tenant: LoginTenant;
  readonly ip: string;
  readonly clientId: string;
}

/**
 * The password check behind the hosted sign-in page: the lockout rules (`lockoutDecider`, pure)
 * with argon2id and SQL around them.
 *
 * Attempts on one account are serialised twice: in-process (so 50 parallel posts do not hold 50
 * database connections) and by a transaction-scoped advisory lock on the account (so replicas
 * agree). The throttle state is read and written under that lock, so N parallel wrong passwords
 * can never buy more than the threshold of verifications before the lock-out. The advisory lock
 * writes nothing, so a sign-in with nothing to record in login_throttle commits without a write.
 */
export class PasswordCheck {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly ipFailures = new Map<string, number[]>();
  private readonly dummyHash: Promise<string>;
  private readonly lockout: ReturnType<typeof lockoutDecider>;

  constructor(
    private readonly pool: Pool,
    private readonly blindIndexKey: Buffer,
    private readonly events: LoginEventLog,
    private readonly policy: SignInPolicy,
    /** Replaces an imported hash by argon2id after a sign-in with it; without it the hash stays. */
    private readonly rehash?: LegacyPasswordRehash,
    /** Charges an imported hash's verification to the tenant's share by its work; without it, verified as it comes. */
    private readonly legacyLane?: (tenantId: string) => LegacyVerificationLane,
  ) {
    // Unknown accounts are verified against this, so they cost what a wrong password costs.
    this.dummyHash = hash('tessera-dummy-password-for-timing', ARGON2ID_OPTIONS);
    this.lockout = lockoutDecider({
      threshold: policy.lockoutThreshold,
      windowMs: policy.lockoutWindowMs,
      cooldownMs: policy.lockoutCooldownMs,
    });
  }

  /** The sign-in stream key of a person (their e-mail's blind index), for a sign-in that needed no password. */
  accountKeyOf(tenantId: string, email: string): string {
    return blindIndex(this.blindIndexKey, tenantId, 'email', email);
  }

  /**
   * Whether the tenant refuses this person a sign-in until their e-mail is verified
   * (LOGIN_UNVERIFIED_EMAIL): the rule the password check applies, for sign-ins that prove who the
   * person is another way (a passkey alone). Records the refusal as the password check does.
   */
  async refusedUnverified(tenant: LoginTenant, credential: Credential, clientId: string): Promise<boolean> {
    if (credential.emailVerified || this.policy.unverifiedEmail(tenant.slug) !== 'refuse') return false;
    const accountKey = this.accountKeyOf(tenant.tenantId, credential.email);
    await this.record(tenant, accountKey, [
      LoginFailed({ accountKey, reason: 'email_unverified', clientId, at: new Date().toISOString() }),
    ]);
    return true;
  }

  /** Checks the `email` and `password` fields of a parsed sign-in form; a missing field is a wrong password, recorded nowhere. */
  check(attempt: Attempt): Promise<SignInOutcome> {
    const { email, password } = attempt.body;
    if (typeof email !== 'string' || email === '' || typeof password !== 'string' || password === '') {
      return Promise.resolve({ ok: false, reason: 'invalid_credentials' });
    }
    return this.attempt(attempt, email, password);
  }

  private async attempt(attempt: Attempt, email: string, password: string): Promise<SignInOutcome> {
    const { tenant } = attempt;
    const accountKey = blindIndex(this.blindIndexKey, tenant.tenantId, 'email', email);
    const ipKey = `${tenant.tenantId}|${attempt.ip}`;
    const now = Date.now();
    if (this.recentIpFailures(ipKey, now) >= this.policy.ipFailureLimit) {
      await this.record(tenant, accountKey, [
        LoginFailed({ accountKey, reason: 'throttled', clientId: attempt.clientId, at: new Date(now).toISOString() }),
      ]);
      return { ok: false, reason: 'throttled' };
    }
    const queueKey = `${tenant.tenantId}|${accountKey}`;
    const previous = this.queues.get(queueKey) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.underAccountLock(attempt, accountKey, password));
    this.queues.set(queueKey, current);
    try {
      const outcome = await current;
      if (!outcome.ok && outcome.reason === 'invalid_credentials') this.countIpFailure(ipKey);
      return outcome;
    } finally {
      if (this.queues.get(queueKey) === current) this.queues.delete(queueKey);
    }
  }

  /** Verifies (unless the account is locked), decides, and saves the throttle state the decision leaves, under the account's lock. */
  private async underAccountLock(attempt: Attempt, accountKey: string, password: string): Promise<SignInOutcome> {
    const { tenant, clientId } = attempt;
    const at = new Date();
    const { credential, events, verdict } = await inTransaction<
      { credential: Credential | undefined; events: readonly SignInEvent[]; verdict: PasswordVerdict },
      AccountStateRow
    >(
      this.pool,
      async (client, [row]) => {
        const credential = credentialOf(row);
        const throttle = throttleOf(row);
        // Exactly one verification per attempt on an unlocked account; unknown accounts pay it against the dummy hash.
        const verdict = isLocked(throttle, at)
          ? 'no-match'
          : await checkPassword(credential, password, await this.dummyHash, this.legacyLane?.(tenant.tenantId));
        const verified =
          credential && verdict !== 'no-match' ? { userId: credential.userId, emailVerified: credential.emailVerified } : null;
        const decision = this.lockout.decide(
          { type: 'RecordAttempt', at, accountKey, clientId, verified, unverifiedEmail: this.policy.unverifiedEmail(tenant.slug) },
          throttle,
        );
        // The rules only ever decide sign-in events; a password change reaches them through the projection.
        const events = (decision.accepted ? decision.events : []).filter((event): event is SignInEvent => event.type !== 'PasswordChanged');
        const next = fold(this.lockout, events, throttle);
        if (!sameThrottle(throttle, next)) await saveThrottle(client, tenant.tenantId, accountKey, next);
        return { credential, events, verdict };
      },
      { read: lockedAccountStateQuery(tenant.tenantId, accountKey) },
    );
    const first = events[0];
    if (first?.type === 'LoginSucceeded' && credential) {
      // In this account's turn: a second sign-in waits. If the read model has yet to apply the rehash
      // it verifies the old hash again, and the rule then finds nothing left to replace.
      if (verdict === 'legacy-match') await this.rehash?.replace(tenant.tenantId, credential.userId, password);
      return { ok: true, credential, accountKey };
    }
    await this.record(tenant, accountKey, events);
    return { ok: false, reason: first?.type === 'LoginFailed' ? first.data.reason : 'invalid_credentials' };
  }

  private countIpFailure(ipKey: string): void {
    // Bounded: under a spray from very many addresses the oldest counters go first.
    if (!this.ipFailures.has(ipKey) && this.ipFailures.size >= MAX_TRACKED_ADDRESSES) {
      this.ipFailures.delete(this.ipFailures.keys().next().value as string);
    }
    this.ipFailures.set(ipKey, [...(this.ipFailures.get(ipKey) ?? []), Date.now()]);
  }

  private recentIpFailures(ipKey: string, now: number): number {
    const recent = (this.ipFailures.get(ipKey) ?? []).filter((t) => t > now - this.policy.lockoutWindowMs);
    if (recent.length === 0) this.ipFailures.delete(ipKey);
    else this.ipFailures.set(ipKey, recent);
    return recent.length;
  }

  private record(tenant: LoginTenant, accountKey: string, events: readonly SignInEvent[]): Promise<void> {
    return this.events.record(signInStreamFor(tenant.tenantId, accountKey), tenant.tenantId, [...events]);
  }
}

/** The advisory lock of one account (sign-in attempts, unlock by reset): the tenant and the account's blind index. */
export function accountLockName(tenantId: string, accountKey: string): string {
  return `login.account|${tenantId}|${accountKey}`;
}

type AccountStateRow = CredentialRow & { failures: Date[] | null; locked_until: Date | null };

function throttleOf(row: AccountStateRow | undefined): AccountThrottle {
  return { failures: (row?.failures ?? []).map((failure) => failure.getTime()), lockedUntil: row?.locked_until?.getTime() ?? null };
}

function sameThrottle(a: AccountThrottle, b: AccountThrottle): boolean {
  return (
    a.lockedUntil === b.lockedUntil &&
    a.failures.length === b.failures.length &&
    a.failures.every((failure, i) => failure === b.failures[i])
  );
}

async function saveThrottle(client: PoolClient, tenantId: string, accountKey: string, throttle: AccountThrottle): Promise<void> {
  await client.query(
    `INSERT INTO login_throttle (tenant_id, account_key, failures, locked_until) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, account_key) DO UPDATE SET failures = EXCLUDED.failures, locked_until = EXCLUDED.locked_until`,
    [
      tenantId,
      accountKey,
      throttle.failures.map((failure) => new Date(failure)),
      throttle.lockedUntil === null ? null : new Date(throttle.lockedUntil),
    ],
  );
}

/**
 * The account's lock, then its credential (if any) and throttle state (login_account_state_locked),
 * in the round trip that opens the attempt's transaction (see inTransaction): a sign-in costs a few
 * round trips and each is dear. That statement takes no parameters, so the values go in as
 * literals; all come from login itself (a tenant id from the directory, an HMAC in base64url, a
 * number) and are checked against alphabets that hold no quote or backslash.
 */
function lockedAccountStateQuery(tenantId: string, accountKey: string): string {
  if (!UUID.test(tenantId) || !BASE64URL.test(accountKey)) throw new Error('tenant id or account key of an unexpected shape');
  const lock = advisoryLockKey(accountLockName(tenantId, accountKey));
  return `SELECT * FROM login_account_state_locked(${lock}, '${tenantId}', '${accountKey}')`;
}
