import { accept, type Decider } from '#cqrs';
import type { AccountEvent } from '#contracts';
import { AccountLocked, LoginFailed, LoginSucceeded, type SignInEvent } from './sign-in.events';

export interface LockoutPolicy {
  /** Wrong passwords within the window that lock the account. */
  readonly threshold: number;
  readonly windowMs: number;
  /** How long a locked account refuses every attempt, right password included. */
  readonly cooldownMs: number;
}

/** What login keeps of one account's recent attempts (epoch milliseconds). */
export interface AccountThrottle {
  /** Wrong passwords since the last success, lock-out or password change; the newest `threshold` at most. */
  readonly failures: readonly number[];
  readonly lockedUntil: number | null;
}

/**
 * One sign-in attempt, after the password was checked (or not: a locked account is refused
 * without spending an argon2 verification, see `isLocked`).
 */
export interface RecordAttempt {
  readonly type: 'RecordAttempt';
  readonly at: Date;
  readonly accountKey: string;
  readonly clientId: string;
  /** The verified account, when the password matched an existing one. */
  readonly verified: { readonly userId: string; readonly emailVerified: boolean } | null;
  /** Whether the tenant lets a person whose e-mail is unverified sign in. */
  readonly unverifiedEmail: 'allow' | 'refuse';
}

/** The events that move an account's throttle: its own sign-in events and register's password change. */
export type ThrottleEvent = SignInEvent | Extract<AccountEvent, { type: 'PasswordChanged' }>;

/** Whether the account refuses attempts at `at`: the caller then skips the password check. */
export function isLocked(state: AccountThrottle, at: Date): boolean {
  return state.lockedUntil !== null && state.lockedUntil > at.getTime();
}

export const unthrottled: AccountThrottle = { failures: [], lockedUntil: null };

/**
 * Brute-force protection of one account (its blind-indexed e-mail, so unknown addresses are
 * throttled too): `threshold` wrong passwords within `windowMs` lock it for `cooldownMs`; the right
 * password, or a password change (the reset path of a locked-out person), clears the count.
 * Attempts from one address across accounts are throttled apart, at the HTTP edge.
 */
export function lockoutDecider(policy: LockoutPolicy): Decider<RecordAttempt, ThrottleEvent, AccountThrottle, never> {
  return {
    initialState: () => unthrottled,
    evolve(state, event) {
      switch (event.type) {
        case 'LoginFailed':
          if (event.data.reason === 'invalid_credentials') {
            return { ...state, failures: [...state.failures, Date.parse(event.data.at)].slice(-policy.threshold) };
          }
          // The password was right: what counted against it is forgiven.
          if (event.data.reason === 'email_unverified') return unthrottled;
          return state;
        case 'AccountLocked':
          return { failures: [], lockedUntil: Date.parse(event.data.lockedUntil) };
        case 'LoginSucceeded':
        case 'PasswordChanged':
          return unthrottled;
        default:
          return state;
      }
    },
    decide(command, state) {
      const { accountKey, clientId } = command;
      const at = command.at.toISOString();
      if (isLocked(state, command.at)) return accept(LoginFailed({ accountKey, reason: 'locked', clientId, at }));
      if (command.verified) {
        if (!command.verified.emailVerified && command.unverifiedEmail === 'refuse') {
          return accept(LoginFailed({ accountKey, reason: 'email_unverified', clientId, at }));
        }
        return accept(LoginSucceeded({ accountKey, userId: command.verified.userId, clientId, at }));
      }
      const failed = LoginFailed({ accountKey, reason: 'invalid_credentials', clientId, at });
      const windowStart = command.at.getTime() - policy.windowMs;
      const recent = state.failures.filter((failure) => failure > windowStart).length + 1;
      if (recent < policy.threshold) return accept(failed);
      const lockedUntil = new Date(command.at.getTime() + policy.cooldownMs).toISOString();
      return accept(failed, AccountLocked({ accountKey, failures: recent, lockedUntil, at }));
    },
  };
}
