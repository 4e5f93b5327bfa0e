import { given } from '#cqrs/testing';
import { ConsentGranted, PasswordRehashed, UserErased, UserImported } from '#contracts';
import { accountDecider, type ImportUser } from './account.decider';
import { EmailReserved, reservationDecider } from './email-reservation';

const userId = '6a1f7c52-3e0b-5d4a-9c8e-2f1b0a9d8c7e';
const now = new Date('2026-12-06T08:00:00.000Z');
const profile = { givenName: 'Grace', familyName: 'Hopper', phone: null, locale: 'en-US' };
const legacyPassword = { format: 'bcrypt', hash: '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm' };

const importLine: ImportUser = {
  type: 'ImportUser',
  userId,
  externalId: 'kc-1234',
  email: 'grace@example.com',
  emailIndex: 'idx',
  emailVerified: true,
  legacyPassword,
  profile,
  consents: [{ purpose: 'newsletter', policyVersion: 'v3' }],
  importDigest: 'digest-1',
  now,
};

const { type: _type, consents: _consents, now: _now, ...carried } = importLine;
const imported = UserImported(carried);

describe('importing a person', () => {
  test('an import line creates the account with its old hash, verified flag and consents, and mails nothing', () => {
    given(accountDecider, [])
      .when(importLine)
      .then([imported, ConsentGranted({ userId, purpose: 'newsletter', policyVersion: 'v3', at: now.toISOString() })]);
  });

  test('the same line again changes nothing, whatever happened to the account since', () => {
    given(accountDecider, [imported, PasswordRehashed({ userId, passwordHash: '$argon2id$…', replaced: 'bcrypt' })])
      .when(importLine)
      .thenNothingHappens();
  });

  test('the same external id with other content is refused, like a reused idempotency key', () => {
    given(accountDecider, [imported])
      .when({ ...importLine, emailVerified: false, importDigest: 'digest-2' })
      .thenRejects({ kind: 'ImportConflict' });
  });

  test('an erased person is not brought back by importing them again', () => {
    given(accountDecider, [imported, UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'tenant' })])
      .when(importLine)
      .thenRejects({ kind: 'AccountErased' });
  });

  test('an imported person without a password can set one with a reset, like anyone', () => {
    const withoutPassword = UserImported({ ...imported.data, legacyPassword: null });
    given(accountDecider, [withoutPassword])
      .when({ type: 'RequestPasswordReset', tokenHash: 'tok', expiresAt: new Date(now.getTime() + 60_000) })
      .then([expect.objectContaining({ type: 'PasswordResetRequested' }) as never]);
  });
});

describe('claiming an e-mail for an import', () => {
  test('claiming again what one holds appends nothing (the same person imported twice at once)', () => {
    given(reservationDecider, [EmailReserved({ userId, reservedAt: now.toISOString() })])
      .when({ type: 'ReserveEmail', userId, now, holderHasNoAccount: false })
      .thenNothingHappens();
  });

  test('an address another person holds stays theirs', () => {
    given(reservationDecider, [EmailReserved({ userId: '0193c2a0-0000-7000-8000-000000000009', reservedAt: now.toISOString() })])
      .when({ type: 'ReserveEmail', userId, now, holderHasNoAccount: false })
      .thenRejects({ kind: 'EmailTaken' });
  });

  test('a claim whose import line was refused is released as abandoned', () => {
    given(reservationDecider, [EmailReserved({ userId, reservedAt: now.toISOString() })])
      .when({ type: 'ReleaseEmail', userId, now, reason: 'abandoned' })
      .then([expect.objectContaining({ type: 'EmailReleased', data: expect.objectContaining({ reason: 'abandoned' }) }) as never]);
  });
});
