import { given } from '#cqrs/testing';
import { PasswordChanged, UserErased, UserImported, UserRegistered } from '#contracts';
import { passwordChangeDecider } from './password-change';

const userId = '6a1f7c52-3e0b-5d4a-9c8e-2f1b0a9d8c7e';
const profile = { givenName: null, familyName: null, phone: null, locale: null };
const registered = UserRegistered({ userId, email: 'a@example.com', emailIndex: 'idx', passwordHash: '$argon2id$old', profile });
const change = { type: 'ChangePassword' as const, userId, passwordHash: '$argon2id$new' };

describe('changing a password while signed in', () => {
  test('a live account takes the new password, as a change (not a reset)', () => {
    given(passwordChangeDecider, [registered])
      .when(change)
      .then([PasswordChanged({ userId, passwordHash: '$argon2id$new', reason: 'change' })]);
  });

  test('an imported account takes one too, its old hash replaced', () => {
    const imported = UserImported({
      userId,
      externalId: 'x-1',
      email: 'a@example.com',
      emailIndex: 'idx',
      emailVerified: true,
      legacyPassword: null,
      profile,
      importDigest: 'd',
    });
    given(passwordChangeDecider, [imported])
      .when(change)
      .then([PasswordChanged({ userId, passwordHash: '$argon2id$new', reason: 'change' })]);
  });

  test('an erasure that landed meanwhile is never followed by a password', () => {
    given(passwordChangeDecider, [registered, UserErased({ userId, erasedAt: '2026-01-01T00:00:00.000Z', requestedBy: 'user' })])
      .when(change)
      .thenRejects({ kind: 'AccountNotFound' });
  });

  test('a stream with no account takes nothing', () => {
    given(passwordChangeDecider, []).when(change).thenRejects({ kind: 'AccountNotFound' });
  });
});
