import { hash } from '@node-rs/argon2';
import bcryptjs from 'bcryptjs';
import { given } from '#cqrs/testing';
import { ARGON2ID_OPTIONS, PasswordChanged, PasswordRehashed, UserErased, UserImported } from '#contracts';
import type { Credential } from '../directory';
import { checkPassword, legacyHashDecider } from './legacy-rehash';

const userId = '6a1f7c52-3e0b-5d4a-9c8e-2f1b0a9d8c7e';
const bcrypt = { format: 'bcrypt', hash: '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm' };
const profile = { givenName: null, familyName: null, phone: null, locale: null };
const imported = (legacyPassword: typeof bcrypt | null) =>
  UserImported({
    userId,
    externalId: 'x-1',
    email: 'a@example.com',
    emailIndex: 'idx',
    emailVerified: true,
    legacyPassword,
    profile,
    importDigest: 'd',
  });
const replace = { type: 'ReplaceLegacyHash' as const, userId, passwordHash: '$argon2id$new' };

describe('replacing an imported hash', () => {
  test('the first sign-in with an imported hash replaces it, naming the format that goes', () => {
    given(legacyHashDecider, [imported(bcrypt)])
      .when(replace)
      .then([PasswordRehashed({ userId, passwordHash: '$argon2id$new', replaced: 'bcrypt' })]);
  });

  test('a hash is replaced once', () => {
    given(legacyHashDecider, [imported(bcrypt), PasswordRehashed({ userId, passwordHash: 'h', replaced: 'bcrypt' })])
      .when(replace)
      .thenNothingHappens();
  });

  test('a reset that landed meanwhile is never overwritten with the old password', () => {
    given(legacyHashDecider, [imported(bcrypt), PasswordChanged({ userId, passwordHash: 'h2', reason: 'reset' })])
      .when(replace)
      .thenNothingHappens();
  });

  test('an erased person, or one imported without a hash, has nothing to replace', () => {
    given(legacyHashDecider, [imported(bcrypt), UserErased({ userId, erasedAt: '2026-12-06T08:00:00Z', requestedBy: 'user' })])
      .when(replace)
      .thenNothingHappens();
    given(legacyHashDecider, [imported(null)])
      .when(replace)
      .thenNothingHappens();
  });
});

describe('checking a typed password', () => {
  const dummyPassword = 'tessera-dummy-password-for-timing';
  const credential = (fields: Partial<Credential>): Credential => ({
    userId,
    email: 'a@example.com',
    emailVerified: true,
    passwordHash: null,
    legacyPassword: null,
    givenName: null,
    familyName: null,
    locale: null,
    ...fields,
  });
  let dummyHash: string;
  beforeAll(async () => {
    dummyHash = await hash(dummyPassword, ARGON2ID_OPTIONS);
  });

  test('argon2id first, then an imported hash; each matches only its own password', async () => {
    const argon = await hash('argon password', ARGON2ID_OPTIONS);
    expect(await checkPassword(credential({ passwordHash: argon }), 'argon password', dummyHash)).toBe('match');
    expect(await checkPassword(credential({ passwordHash: argon }), 'Kk4DQuMMfZL9o', dummyHash)).toBe('no-match');
    const legacy = credential({ legacyPassword: { format: 'bcrypt', hash: bcryptjs.hashSync('old password', 4) } });
    expect(await checkPassword(legacy, 'old password', dummyHash)).toBe('legacy-match');
    expect(await checkPassword(legacy, 'old passwore', dummyHash)).toBe('no-match');
  });

  test('a person imported without any hash never signs in, not even with the dummy password unknown addresses are checked against', async () => {
    expect(await checkPassword(credential({}), dummyPassword, dummyHash)).toBe('no-match');
    expect(await checkPassword(undefined, dummyPassword, dummyHash)).toBe('no-match');
  });

  test('an unreadable imported hash is a wrong password, not an error', async () => {
    expect(await checkPassword(credential({ legacyPassword: { format: 'md5', hash: 'x' } }), 'x', dummyHash)).toBe('no-match');
  });
});
