import { PasswordChanged } from '#contracts';
import { given } from '#cqrs/testing';
import { isLocked, lockoutDecider, unthrottled, type RecordAttempt } from './lockout.decider';
import { AccountLocked, LoginFailed, LoginSucceeded } from './sign-in.events';

const policy = { threshold: 3, windowMs: 15 * 60_000, cooldownMs: 10 * 60_000 };
const lockout = lockoutDecider(policy);
const accountKey = 'k';
const clientId = 'app';
const minute = (n: number) => new Date(Date.UTC(2026, 11, 6, 10, n));
const wrong = (at: Date): RecordAttempt => ({ type: 'RecordAttempt', at, accountKey, clientId, verified: null, unverifiedEmail: 'allow' });
const right = (at: Date, emailVerified = true, unverifiedEmail: 'allow' | 'refuse' = 'allow'): RecordAttempt => ({
  type: 'RecordAttempt',
  at,
  accountKey,
  clientId,
  verified: { userId: 'u1', emailVerified },
  unverifiedEmail,
});
const failedAt = (at: Date) => LoginFailed({ accountKey, reason: 'invalid_credentials', clientId, at: at.toISOString() });

describe('lockout', () => {
  test('a wrong password below the threshold is counted, nothing more', () => {
    given(lockout, [failedAt(minute(0))])
      .when(wrong(minute(1)))
      .then([failedAt(minute(1))]);
  });

  test('the threshold-th wrong password within the window locks the account for the cooldown', () => {
    given(lockout, [failedAt(minute(0)), failedAt(minute(1))])
      .when(wrong(minute(2)))
      .then([
        failedAt(minute(2)),
        AccountLocked({ accountKey, failures: 3, lockedUntil: minute(12).toISOString(), at: minute(2).toISOString() }),
      ]);
  });

  test('failures older than the window do not count towards a lock-out', () => {
    given(lockout, [failedAt(minute(0)), failedAt(minute(1))])
      .when(wrong(minute(16)))
      .then([failedAt(minute(16))]);
  });

  test('a locked account refuses even the right password until the cooldown ends', () => {
    const locked = [AccountLocked({ accountKey, failures: 3, lockedUntil: minute(12).toISOString(), at: minute(2).toISOString() })];
    given(lockout, locked)
      .when(right(minute(11)))
      .then([LoginFailed({ accountKey, reason: 'locked', clientId, at: minute(11).toISOString() })]);
    given(lockout, locked)
      .when(right(minute(12)))
      .then([LoginSucceeded({ accountKey, userId: 'u1', clientId, at: minute(12).toISOString() })]);
  });

  test('after the cooldown the count starts again from nothing', () => {
    given(lockout, [
      failedAt(minute(0)),
      failedAt(minute(1)),
      failedAt(minute(2)),
      AccountLocked({ accountKey, failures: 3, lockedUntil: minute(12).toISOString(), at: minute(2).toISOString() }),
    ])
      .when(wrong(minute(13)))
      .then([failedAt(minute(13))]);
  });

  test('the right password forgives earlier wrong ones', () => {
    given(lockout, [
      failedAt(minute(0)),
      failedAt(minute(1)),
      LoginSucceeded({ accountKey, userId: 'u1', clientId, at: minute(2).toISOString() }),
    ])
      .when(wrong(minute(3)))
      .then([failedAt(minute(3))]);
  });

  test('a password change (the reset path) unlocks a locked account', () => {
    given(lockout, [
      AccountLocked({ accountKey, failures: 3, lockedUntil: minute(12).toISOString(), at: minute(2).toISOString() }),
      PasswordChanged({ userId: 'u1', passwordHash: 'h', reason: 'reset' }),
    ])
      .when(right(minute(3)))
      .then([LoginSucceeded({ accountKey, userId: 'u1', clientId, at: minute(3).toISOString() })]);
  });

  test('the right password with an unverified e-mail is refused where the tenant requires verification, and forgives the count', () => {
    given(lockout, [failedAt(minute(0)), failedAt(minute(1))])
      .when(right(minute(2), false, 'refuse'))
      .then([LoginFailed({ accountKey, reason: 'email_unverified', clientId, at: minute(2).toISOString() })]);
    given(lockout, [
      failedAt(minute(0)),
      failedAt(minute(1)),
      LoginFailed({ accountKey, reason: 'email_unverified', clientId, at: minute(2).toISOString() }),
    ])
      .when(wrong(minute(3)))
      .then([failedAt(minute(3))]);
    given(lockout, [])
      .when(right(minute(2), false, 'allow'))
      .then([LoginSucceeded({ accountKey, userId: 'u1', clientId, at: minute(2).toISOString() })]);
  });

  test('refusals that are not wrong passwords (locked, throttled) count nothing', () => {
    given(lockout, [
      failedAt(minute(0)),
      LoginFailed({ accountKey, reason: 'throttled', clientId, at: minute(1).toISOString() }),
      LoginFailed({ accountKey, reason: 'locked', clientId, at: minute(1).toISOString() }),
    ])
      .when(wrong(minute(2)))
      .then([failedAt(minute(2))]);
  });

  test('a long history keeps only what a decision needs', () => {
    const state = Array.from({ length: 50 }, (_, i) => failedAt(new Date(minute(0).getTime() - i * 3_600_000))).reduce(
      lockout.evolve,
      unthrottled,
    );
    expect(state.failures).toHaveLength(policy.threshold);
    expect(isLocked(state, minute(0))).toBe(false);
  });
});
