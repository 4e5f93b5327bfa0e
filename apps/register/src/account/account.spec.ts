import { given } from '#cqrs/testing';
import { accountDecider, type AccountCommand } from './account.decider';
import {
  ConsentGranted,
  ConsentWithdrawn,
  EmailVerificationRequested,
  EmailVerified,
  PasswordChanged,
  PasswordResetRequested,
  ProfileUpdated,
  UserErased,
  UserRegistered,
  UserSessionsRevoked,
} from '#contracts';
import { ABANDONED_RESERVATION_MS, EmailReleased, EmailReserved, reservationDecider } from './email-reservation';

const userId = '0193c2a0-0000-7000-8000-000000000001';
const now = new Date('2026-11-23T10:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const profile = { givenName: 'Ada', familyName: 'Lovelace', phone: null, locale: 'en-GB' };
const registered = UserRegistered({ userId, email: 'ada@example.com', emailIndex: 'idx', passwordHash: 'h1', profile });
const verificationRequested = EmailVerificationRequested({ userId, tokenHash: 'tok', expiresAt: later(60_000).toISOString() });

const registerCommand: AccountCommand = {
  type: 'RegisterUser',
  userId,
  email: 'ada@example.com',
  emailIndex: 'idx',
  passwordHash: 'h1',
  profile,
  consents: [{ purpose: 'marketing', policyVersion: '2026-01' }],
  verificationTokenHash: 'tok',
  verificationExpiresAt: later(60_000),
  now,
};

describe('account rules', () => {
  test('a sign-up registers the user, records each consent and asks for e-mail verification', () => {
    given(accountDecider, [])
      .when(registerCommand)
      .then([
        registered,
        ConsentGranted({ userId, purpose: 'marketing', policyVersion: '2026-01', at: now.toISOString() }),
        verificationRequested,
      ]);
  });

  test('an account registers once', () => {
    given(accountDecider, [registered]).when(registerCommand).thenRejects({ kind: 'AlreadyRegistered' });
  });

  test('the mailed token verifies the e-mail', () => {
    given(accountDecider, [registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: 'tok', now })
      .then([EmailVerified({ userId, verifiedAt: now.toISOString() })]);
  });

  test('a verification token works once', () => {
    given(accountDecider, [registered, verificationRequested, EmailVerified({ userId, verifiedAt: now.toISOString() })])
      .when({ type: 'VerifyEmail', tokenHash: 'tok', now })
      .thenRejects({ kind: 'InvalidToken' });
  });

  test('a verification token expires', () => {
    given(accountDecider, [registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: 'tok', now: later(60_000) })
      .thenRejects({ kind: 'TokenExpired' });
  });

  test('a new verification link replaces the last one: the old token no longer verifies, the new one does', () => {
    const again = EmailVerificationRequested({ userId, tokenHash: 'tok2', expiresAt: later(120_000).toISOString() });
    given(accountDecider, [registered, verificationRequested])
      .when({ type: 'RequestEmailVerification', tokenHash: 'tok2', expiresAt: later(120_000) })
      .then([again]);
    given(accountDecider, [registered, verificationRequested, again])
      .when({ type: 'VerifyEmail', tokenHash: 'tok', now })
      .thenRejects({ kind: 'InvalidToken' });
    given(accountDecider, [registered, verificationRequested, again])
      .when({ type: 'VerifyEmail', tokenHash: 'tok2', now: later(90_000) })
      .then([EmailVerified({ userId, verifiedAt: later(90_000).toISOString() })]);
  });

  test('a verified address, or an address without an account, gets no new verification link', () => {
    given(accountDecider, [registered, verificationRequested, EmailVerified({ userId, verifiedAt: now.toISOString() })])
      .when({ type: 'RequestEmailVerification', tokenHash: 'tok2', expiresAt: later(60_000) })
      .thenNothingHappens();
    given(accountDecider, []).when({ type: 'RequestEmailVerification', tokenHash: 'x', expiresAt: now }).thenNothingHappens();
  });

  test('a wrong token verifies nothing', () => {
    given(accountDecider, [registered, verificationRequested])
      .when({ type: 'VerifyEmail', tokenHash: 'other', now })
      .thenRejects({ kind: 'InvalidToken' });
  });

  test('a password reset changes the password, verifies the e-mail and revokes sessions', () => {
    const resetRequested = PasswordResetRequested({ userId, tokenHash: 'reset', expiresAt: later(60_000).toISOString() });
    given(accountDecider, [registered, resetRequested])
      .when({ type: 'ResetPassword', tokenHash: 'reset', passwordHash: 'h2', now })
      .then([
        PasswordChanged({ userId, passwordHash: 'h2', reason: 'reset' }),
        EmailVerified({ userId, verifiedAt: now.toISOString() }),
        UserSessionsRevoked({ userId, reason: 'password-reset' }),
      ]);
  });

  test('a reset token works once', () => {
    const resetRequested = PasswordResetRequested({ userId, tokenHash: 'reset', expiresAt: later(60_000).toISOString() });
    given(accountDecider, [registered, resetRequested, PasswordChanged({ userId, passwordHash: 'h2', reason: 'reset' })])
      .when({ type: 'ResetPassword', tokenHash: 'reset', passwordHash: 'h3', now })
      .thenRejects({ kind: 'InvalidToken' });
  });

  test('a reset for an unknown account does nothing and reveals nothing', () => {
    given(accountDecider, []).when({ type: 'RequestPasswordReset', tokenHash: 'x', expiresAt: now }).thenNothingHappens();
  });

  test('granting the consent already granted for that policy version records nothing', () => {
    const granted = ConsentGranted({ userId, purpose: 'marketing', policyVersion: 'v1', at: now.toISOString() });
    given(accountDecider, [registered, granted])
      .when({ type: 'GrantConsent', purpose: 'marketing', policyVersion: 'v1', now })
      .thenNothingHappens();
    given(accountDecider, [registered, granted])
      .when({ type: 'GrantConsent', purpose: 'marketing', policyVersion: 'v2', now })
      .then([ConsentGranted({ userId, purpose: 'marketing', policyVersion: 'v2', at: now.toISOString() })]);
  });

  test('withdrawing a consent records the withdrawal once', () => {
    const granted = ConsentGranted({ userId, purpose: 'marketing', policyVersion: 'v1', at: now.toISOString() });
    given(accountDecider, [registered, granted])
      .when({ type: 'WithdrawConsent', purpose: 'marketing', now })
      .then([ConsentWithdrawn({ userId, purpose: 'marketing', at: now.toISOString() })]);
    given(accountDecider, [registered]).when({ type: 'WithdrawConsent', purpose: 'marketing', now }).thenNothingHappens();
  });

  test('a profile update records only what changed', () => {
    given(accountDecider, [registered])
      .when({ type: 'UpdateProfile', changes: { givenName: 'Ada', familyName: 'King' } })
      .then([ProfileUpdated({ userId, changes: { familyName: 'King' } })]);
  });

  test('an erased account accepts nothing but another erasure, which changes nothing', () => {
    const erased = UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'user' });
    given(accountDecider, [registered, erased]).when({ type: 'EraseUser', requestedBy: 'tenant', now }).thenNothingHappens();
    given(accountDecider, [registered, erased])
      .when({ type: 'UpdateProfile', changes: { givenName: 'X' } })
      .thenRejects({ kind: 'AccountNotFound' });
  });
});

describe('e-mail reservation rules', () => {
  const reserved = EmailReserved({ userId, reservedAt: now.toISOString() });
  const other = '0193c2a0-0000-7000-8000-000000000002';

  test('a free address is reserved', () => {
    given(reservationDecider, [])
      .when({ type: 'ReserveEmail', userId: other, now, holderHasNoAccount: false })
      .then([EmailReserved({ userId: other, reservedAt: now.toISOString() })]);
  });

  test('a held address is taken', () => {
    given(reservationDecider, [reserved])
      .when({ type: 'ReserveEmail', userId: other, now, holderHasNoAccount: false })
      .thenRejects({ kind: 'EmailTaken' });
  });

  test('a reservation whose sign-up never completed frees the address after the grace period, not before', () => {
    given(reservationDecider, [reserved])
      .when({ type: 'ReserveEmail', userId: other, now: later(1000), holderHasNoAccount: true })
      .thenRejects({ kind: 'EmailTaken' });
    const after = later(ABANDONED_RESERVATION_MS + 1);
    given(reservationDecider, [reserved])
      .when({ type: 'ReserveEmail', userId: other, now: after, holderHasNoAccount: true })
      .then([
        EmailReleased({ userId, releasedAt: after.toISOString(), reason: 'abandoned' }),
        EmailReserved({ userId: other, reservedAt: after.toISOString() }),
      ]);
  });

  test('an erased account releases its address', () => {
    given(reservationDecider, [reserved])
      .when({ type: 'ReleaseEmail', userId, now })
      .then([EmailReleased({ userId, releasedAt: now.toISOString(), reason: 'erased' })]);
    given(reservationDecider, [reserved, EmailReleased({ userId, releasedAt: now.toISOString(), reason: 'erased' })])
      .when({ type: 'ReserveEmail', userId: other, now, holderHasNoAccount: false })
      .then([EmailReserved({ userId: other, reservedAt: now.toISOString() })]);
  });
});
