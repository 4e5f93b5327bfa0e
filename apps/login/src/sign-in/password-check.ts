import { hash, verify } from '@node-rs/argon2';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '#eventstore';
import { blindIndex } from '#personal-data';
import { ARGON2ID_OPTIONS } from '#contracts';
import { CREDENTIAL_COLUMNS, credentialOf, type Credential, type CredentialRow, type LoginTenant } from '../directory';
import type { LoginEventLog, StreamRecord } from '../login-events';
import { AccountLocked, LoginFailed, LoginSucceeded, signInStreamFor, type SignInEvent } from './sign-in.events';

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

/** What the check decides under the account's lock. */
type Decision = { readonly ok: true; readonly credential: Credential } | Refusal;

export type SignInOutcome =
  /** `succeeded` holds LoginSucceeded, for the caller to append with the session it starts (one write). */
  { readonly ok: true; readonly credential: Credential; readonly succeeded: StreamRecord } | Refusal;

interface Attempt {
  readonly body: Record<string, unknown>;
  readonly tenant: LoginTenant;
  readonly ip: string;
  readonly clientId: string;
}

/**
 * The password check behind the hosted sign-in page: passport's local strategy over login's
 * credentials read model, with lockout and throttling.
 *
 * Attempts on one account are serialised twice: in-process (so 50 parallel posts do not hold 50
 * database connections) and by a transaction-scoped advisory lock on the account (so replicas
 * agree). The failure count is read and written under that lock, so N parallel wrong passwords
 * can never buy more than the threshold of verifications before the lock-out. The advisory lock
 * writes nothing, so a sign-in with nothing to record in login_throttle commits without a write.
 */
export class PasswordCheck {
  private readonly strategy: LocalStrategy;
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly ipFailures = new Map<string, number[]>();
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly pool: Pool,
    private readonly blindIndexKey: Buffer,
    private readonly events: LoginEventLog,
    private readonly policy: SignInPolicy,
  ) {
    // Unknown accounts are verified against this, so they cost what a wrong password costs.
    this.dummyHash = hash('tessera-dummy-password-for-timing', ARGON2ID_OPTIONS);
    this.strategy = new LocalStrategy(
      { usernameField: 'email', passwordField: 'password', passReqToCallback: true, session: false },
      (req, email, password, done) => {
        this.attempt(req as unknown as Attempt, email, password).then((outcome) => done(null, outcome), done);
      },
    );
  }

  /** Runs passport's local strategy on a parsed form body. */
  check(attempt: Attempt): Promise<SignInOutcome> {
    return new Promise((resolve, reject) => {
      const run = Object.create(this.strategy) as LocalStrategy & {
        success(user: SignInOutcome): void;
        fail(): void;
        error(error: unknown): void;
      };
      run.success = (outcome) => resolve(outcome);
      run.fail = () => resolve({ ok: false, reason: 'invalid_credentials' });
      run.error = reject;
      run.authenticate(attempt as never, {});
    });
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

  private async underAccountLock(attempt: Attempt, accountKey: string, password: string): Promise<SignInOutcome> {
    const { tenant } = attempt;
    const at = new Date();
    const events: SignInEvent[] = [];
    const outcome = await inTransaction<Decision, AccountStateRow>(
      this.pool,
      (client, [row]) => {
        const state = { credential: credentialOf(row), failures: row?.failures ?? [], lockedUntil: row?.locked_until ?? null, at };
        return this.decide(client, attempt, accountKey, password, state, events);
      },
      { lock: accountLockName(tenant.tenantId, accountKey), read: accountStateQuery(tenant.tenantId, accountKey) },
    );
    if (outcome.ok) return { ...outcome, succeeded: { streamName: signInStreamFor(tenant.tenantId, accountKey), events } };
    await this.record(tenant, accountKey, events);
    return outcome;
  }

  /** The attempt's outcome, and the throttle state it leaves, decided while the account's lock is held. */
  private async decide(
    client: PoolClient,
    attempt: Attempt,
    accountKey: string,
    password: string,
    state: { credential: Credential | undefined; failures: Date[]; lockedUntil: Date | null; at: Date },
    events: SignInEvent[],
  ): Promise<Decision> {
    const { tenant } = attempt;
    const { credential, failures, lockedUntil, at } = state;
    if (lockedUntil && lockedUntil > at) {
      events.push(LoginFailed({ accountKey, reason: 'locked', clientId: attempt.clientId, at: at.toISOString() }));
      return { ok: false, reason: 'locked' };
    }
    // Exactly one argon2id verification per attempt; unknown accounts pay it against the dummy hash.
    const valid = await verify(credential?.passwordHash ?? (await this.dummyHash), password).catch(() => false);
    if (credential && valid) {
      if (failures.length > 0 || lockedUntil) await this.saveThrottle(client, tenant.tenantId, accountKey, [], null);
      if (!credential.emailVerified && this.policy.unverifiedEmail(tenant.slug) === 'refuse') {
        events.push(LoginFailed({ accountKey, reason: 'email_unverified', clientId: attempt.clientId, at: at.toISOString() }));
        return { ok: false, reason: 'email_unverified' };
      }
      events.push(LoginSucceeded({ accountKey, userId: credential.userId, clientId: attempt.clientId, at: at.toISOString() }));
      return { ok: true, credential };
    }
    const windowStart = at.getTime() - this.policy.lockoutWindowMs;
    const recent = [...failures.filter((f) => f.getTime() > windowStart), at];
    events.push(LoginFailed({ accountKey, reason: 'invalid_credentials', clientId: attempt.clientId, at: at.toISOString() }));
    if (recent.length >= this.policy.lockoutThreshold) {
      const until = new Date(at.getTime() + this.policy.lockoutCooldownMs);
      await this.saveThrottle(client, tenant.tenantId, accountKey, [], until);
      events.push(AccountLocked({ accountKey, failures: recent.length, lockedUntil: until.toISOString(), at: at.toISOString() }));
    } else {
      await this.saveThrottle(client, tenant.tenantId, accountKey, recent, null);
    }
    return { ok: false, reason: 'invalid_credentials' };
  }

  private async saveThrottle(
    client: PoolClient,
    tenantId: string,
    accountKey: string,
    failures: Date[],
    lockedUntil: Date | null,
  ): Promise<void> {
    await client.query(
      `INSERT INTO login_throttle (tenant_id, account_key, failures, locked_until) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, account_key) DO UPDATE SET failures = EXCLUDED.failures, locked_until = EXCLUDED.locked_until`,
      [tenantId, accountKey, failures, lockedUntil],
    );
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

  private record(tenant: LoginTenant, accountKey: string, events: SignInEvent[]): Promise<void> {
    return this.events.record(signInStreamFor(tenant.tenantId, accountKey), tenant.tenantId, events);
  }
}

/** The advisory lock of one account (sign-in attempts, unlock by reset): the tenant and the account's blind index. */
export function accountLockName(tenantId: string, accountKey: string): string {
  return `login.account|${tenantId}|${accountKey}`;
}

type AccountStateRow = CredentialRow & { failures: Date[] | null; locked_until: Date | null };

/**
 * The account's credential (if any) and throttle state, read in the round trip that opens the
 * attempt's transaction and takes the account's lock (see inTransaction): a sign-in costs a few
 * round trips and each is dear. That read takes no parameters, so both values go in as literals;
 * both come from login itself (a tenant id from the directory, an HMAC in base64url) and are
 * checked against alphabets that hold no quote or backslash.
 */
function accountStateQuery(tenantId: string, accountKey: string): string {
  if (!UUID.test(tenantId) || !BASE64URL.test(accountKey)) throw new Error('tenant id or account key of an unexpected shape');
  return `SELECT t.failures, t.locked_until, ${CREDENTIAL_COLUMNS}
    FROM (VALUES (1)) AS account (present)
    LEFT JOIN login_throttle t ON t.tenant_id = '${tenantId}' AND t.account_key = '${accountKey}'
    LEFT JOIN login_credentials c ON c.tenant_id = '${tenantId}' AND c.email_index = '${accountKey}'`;
}
