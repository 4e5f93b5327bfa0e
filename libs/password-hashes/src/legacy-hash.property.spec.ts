import { pbkdf2Sync } from 'node:crypto';
import { hash as argon2Hash } from '@node-rs/argon2';
import bcryptjs from 'bcryptjs';
import fc from 'fast-check';
import { LEGACY_HASH_FORMATS, verifyLegacyPassword } from '#password-hashes';

const PASSWORD = 'the one true password';

/** One stored hash per format, each made by its reference implementation with cheap parameters. */
async function storedHashes(): Promise<Record<string, unknown>> {
  const salt = Buffer.from('0123456789abcdef');
  return {
    bcrypt: { format: 'bcrypt', hash: bcryptjs.hashSync(PASSWORD, 4) },
    'pbkdf2-sha256': {
      format: 'pbkdf2-sha256',
      salt: salt.toString('base64'),
      iterations: 10,
      hash: pbkdf2Sync(PASSWORD, salt, 10, 64, 'sha256').toString('base64'),
    },
    'pbkdf2-sha512': {
      format: 'pbkdf2-sha512',
      salt: salt.toString('base64'),
      iterations: 10,
      hash: pbkdf2Sync(PASSWORD, salt, 10, 64, 'sha512').toString('base64'),
    },
    // Firebase's published vector: no reference library of ours makes these, so the vector stands in.
    'firebase-scrypt': {
      format: 'firebase-scrypt',
      signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
      saltSeparator: 'Bw==',
      rounds: 8,
      memCost: 14,
      salt: '42xEC+ixf3L2lw==',
      hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
    },
    argon2i: { format: 'argon2i', hash: await argon2Hash(PASSWORD, { algorithm: 1, memoryCost: 64, timeCost: 1, parallelism: 1 }) },
    argon2id: { format: 'argon2id', hash: await argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 64, timeCost: 1, parallelism: 1 }) },
  };
}

const FIREBASE_PASSWORD = 'user1password';

describe('legacy hashes under random input', () => {
  let stored: Record<string, unknown>;
  beforeAll(async () => {
    stored = await storedHashes();
  });

  test('the right password verifies for every format (what the properties below are measured against)', async () => {
    for (const format of LEGACY_HASH_FORMATS) {
      const password = format === 'firebase-scrypt' ? FIREBASE_PASSWORD : PASSWORD;
      expect([format, (await verifyLegacyPassword(stored[format], password)).kind]).toEqual([format, 'match']);
    }
  });

  test('no other password ever verifies', async () => {
    for (const format of LEGACY_HASH_FORMATS) {
      const right = format === 'firebase-scrypt' ? FIREBASE_PASSWORD : PASSWORD;
      await fc.assert(
        fc.asyncProperty(
          // bcrypt reads only the first 72 bytes: a longer guess sharing them is the same password to it.
          fc.string({ unit: 'grapheme', maxLength: 60 }).filter((guess) => guess !== right),
          async (guess) => {
            expect((await verifyLegacyPassword(stored[format], guess)).kind).toBe('mismatch');
          },
        ),
        { numRuns: format === 'firebase-scrypt' ? 8 : 40 },
      );
    }
  });

  const anyField = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer({ min: -3, max: 40 }),
    fc.constantFrom(2 ** 31, 1e9, 0.5, -0, Number.NaN, Number.POSITIVE_INFINITY, null, true, [], {}),
  );

  test('whatever a hash holds, verifying it answers match, mismatch or a typed refusal, never an exception', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              format: fc.oneof(fc.constantFrom(...LEGACY_HASH_FORMATS, 'keycloak', 'md5', '__proto__'), fc.string()),
              hash: anyField,
              salt: anyField,
              iterations: anyField,
              signerKey: anyField,
              saltSeparator: anyField,
              rounds: anyField,
              memCost: anyField,
            },
            { requiredKeys: ['format'] },
          ),
          // A valid hash with one field replaced by anything.
          fc.tuple(fc.constantFrom(...LEGACY_HASH_FORMATS), fc.constantFrom('hash', 'salt', 'iterations', 'signerKey', 'rounds'), anyField),
        ),
        async (input) => {
          const candidate =
            Array.isArray(input) && input.length === 3 && typeof input[1] === 'string' && stored[input[0] as string]
              ? { ...(stored[input[0] as string] as object), [input[1]]: input[2] }
              : input;
          const outcome = await verifyLegacyPassword(candidate, PASSWORD);
          expect(['match', 'mismatch', 'refused']).toContain(outcome.kind);
          if (outcome.kind === 'refused') {
            expect(outcome.refusals.length).toBeGreaterThan(0);
            for (const refusal of outcome.refusals) expect(typeof refusal.message).toBe('string');
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
