import { given } from '#cqrs/testing';
import { EmailChanged, EmailChangeRequested, UserErased, UserRegistered } from '#contracts';
import { emailChangeRequestDecider, newAddressOf } from './email-change';

const userId = '6a1f7c52-3e0b-5d4a-9c8e-2f1b0a9d8c7e';
const now = new Date('2026-12-01T10:00:00.000Z');
const profile = { givenName: null, familyName: null, phone: null, locale: null };
const registered = UserRegistered({ userId, email: 'a@example.com', emailIndex: 'idx', passwordHash: '$argon2id$h', profile });
const request = (newEmail: string) => ({ type: 'RequestEmailChange' as const, userId, requestId: 'r1', newEmail, locale: 'fr', now });

describe('asking to change the e-mail address while signed in', () => {
  test('a live account records the request, and nothing else changes', () => {
    given(emailChangeRequestDecider, [registered])
      .when(request('b@example.com'))
      .then([EmailChangeRequested({ userId, requestId: 'r1', newEmail: 'b@example.com', locale: 'fr', requestedAt: now.toISOString() })]);
  });

  test('asking for the address in use is nothing to do, also after an earlier change', () => {
    given(emailChangeRequestDecider, [registered]).when(request('a@example.com')).then([]);
    const moved = EmailChanged({
      userId,
      email: 'c@example.com',
      emailIndex: 'c',
      previousEmailIndex: 'idx',
      changedAt: now.toISOString(),
    });
    given(emailChangeRequestDecider, [registered, moved]).when(request('c@example.com')).then([]);
  });

  test('an erased account takes no request', () => {
    given(emailChangeRequestDecider, [registered, UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'user' })])
      .when(request('b@example.com'))
      .thenRejects({ kind: 'AccountNotFound' });
  });

  test('a typed address is trimmed and normalised; anything else is not an address', () => {
    expect(newAddressOf('  Ada@Example.COM ')).toBe('ada@example.com');
    for (const typed of ['', 'not an address', `${'a'.repeat(250)}@example.com`, 'a@b\u0000.com', 'a@example.com\nBcc: x@y.z'])
      expect(newAddressOf(typed)).toBeUndefined();
  });
});
