import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { hash as argon2Hash, hashRaw as argon2Raw } from '@node-rs/argon2';
import bcryptjs from 'bcryptjs';
import { keycloakPasswordHash, LEGACY_HASH_LIMITS, parseLegacyHash, verifyLegacyPassword } from '#password-hashes';

/**
 * Every format is checked against hashes its reference implementation made: bcryptjs and the
 * vectors OpenBSD's and PHP's bcrypt published, node's PBKDF2 laid out as Keycloak exports it,
 * the vectors Firebase and Ory published for Firebase's scrypt, argon2 from @node-rs/argon2.
 */
const verifies = async (stored: unknown, password: string) => (await verifyLegacyPassword(stored, password)).kind;

describe('bcrypt', () => {
  test('hashes bcryptjs makes ($2a$ and $2b$) verify with their password and no other', async () => {
    for (const prefix of ['a', 'b'] as const) {
      // bcryptjs writes $2b$ salts; given a $2a$ salt it makes a $2a$ hash, as older releases did.
      const salt = bcryptjs.genSaltSync(5).replace(/^\$2b\$/, `$2${prefix}$`);
      const hash = bcryptjs.hashSync('correct horse battery staple', salt);
      expect(hash.startsWith(`$2${prefix}$05$`)).toBe(true);
      expect(await verifies({ format: 'bcrypt', hash }, 'correct horse battery staple')).toBe('match');
      expect(await verifies({ format: 'bcrypt', hash }, 'correct horse battery stapler')).toBe('mismatch');
    }
  });

  test("OpenBSD's published vectors (as pyca/bcrypt tests them) and PHP's $2y$ example verify", async () => {
    const vectors: [string, string][] = [
      ['Kk4DQuMMfZL9o', '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm'],
      ['9IeRXmnGxMYbs', '$2b$04$pQ7gRO7e6wx/936oXhNjrOUNOHL1D0h1N2IDbJZYs.1ppzSof6SPy'],
      ['U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
      // php.net's password_verify example, made by PHP's crypt().
      ['rasmuslerdorf', '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a'],
    ];
    for (const [password, hash] of vectors) {
      expect(await verifies({ format: 'bcrypt', hash }, password)).toBe('match');
      expect(await verifies({ format: 'bcrypt', hash }, `${password}x`)).toBe('mismatch');
    }
  });

  test(`a cost above ${LEGACY_HASH_LIMITS.bcryptCost} is refused, never verified`, async () => {
    const costly = '$2b$15$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm';
    const parsed = parseLegacyHash({ format: 'bcrypt', hash: costly });
    expect(parsed).toEqual({ ok: false, refusals: [{ pointer: '/hash', message: 'must have a cost from 04 to 14' }] });
    expect(await verifies({ format: 'bcrypt', hash: costly }, 'anything')).toBe('refused');
  });

  test("PHP's short-salt hash ($2y$04$00000000$) is refused rather than matched", async () => {
    expect(await verifies({ format: 'bcrypt', hash: '$2y$04$00000000$' }, 'foo')).toBe('refused');
  });
});

/** A password credential as Keycloak's realm export writes it, hash made by node's PBKDF2. */
function keycloakCredential(password: string, algorithm: 'pbkdf2-sha256' | 'pbkdf2-sha512', iterations: number) {
  const salt = randomBytes(16);
  const value = pbkdf2Sync(password, salt, iterations, 64, algorithm === 'pbkdf2-sha256' ? 'sha256' : 'sha512');
  return {
    id: '5b3c0d6e-8f7a-4c2b-9e1d-3a4f5b6c7d8e',
    type: 'password',
    userLabel: 'My password',
    createdDate: 1_700_000_000_000,
    secretData: JSON.stringify({ value: value.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({ hashIterations: iterations, algorithm, additionalParameters: {} }),
  };
}

describe('PBKDF2 (Keycloak)', () => {
  test('a Keycloak export credential reads as pbkdf2-sha256 and verifies the password it was made from', async () => {
    const credential = keycloakCredential('Gr8 keycloak pass', 'pbkdf2-sha256', 27_500);
    const hash = keycloakPasswordHash.parse({ format: 'keycloak', credential });
    expect(hash).toMatchObject({ format: 'pbkdf2-sha256', iterations: 27_500 });
    expect(await verifies(hash, 'Gr8 keycloak pass')).toBe('match');
    expect(await verifies(hash, 'gr8 keycloak pass')).toBe('mismatch');
  });

  test('pbkdf2-sha512, as newer Keycloak releases export it, verifies too', async () => {
    const hash = keycloakPasswordHash.parse({ format: 'keycloak', credential: keycloakCredential('päss wörd ✓', 'pbkdf2-sha512', 1_000) });
    expect(hash.format).toBe('pbkdf2-sha512');
    expect(await verifies(hash, 'päss wörd ✓')).toBe('match');
    expect(await verifies(hash, 'pass word ✓')).toBe('mismatch');
  });

  test('an argon2 credential from Keycloak 24+ reads as a PHC string that verifies', async () => {
    const salt = randomBytes(16);
    const raw = await argon2Raw('keycloak argon', { algorithm: 2, memoryCost: 7168, timeCost: 5, parallelism: 1, salt, outputLen: 32 });
    const credential = {
      type: 'password',
      secretData: JSON.stringify({ value: raw.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} }),
      credentialData: JSON.stringify({
        hashIterations: 5,
        algorithm: 'argon2',
        additionalParameters: { hashLength: ['32'], memory: ['7168'], type: ['id'], version: ['1.3'], parallelism: ['1'] },
      }),
    };
    const hash = keycloakPasswordHash.parse({ format: 'keycloak', credential });
    expect(hash.format).toBe('argon2id');
    expect(await verifies(hash, 'keycloak argon')).toBe('match');
    expect(await verifies(hash, 'keycloak argon!')).toBe('mismatch');
  });

  test('more iterations than the cap, or an algorithm Tessera does not verify, are refused with the field named', () => {
    const costly = keycloakPasswordHash.safeParse({
      format: 'keycloak',
      credential: keycloakCredential('x', 'pbkdf2-sha256', LEGACY_HASH_LIMITS.pbkdf2Iterations + 1),
    });
    expect(costly.success).toBe(false);
    expect(costly.error?.issues[0]?.path).toEqual(['credential', 'iterations']);
    const sha1 = keycloakCredential('x', 'pbkdf2-sha256', 1000);
    const unknown = keycloakPasswordHash.safeParse({
      format: 'keycloak',
      credential: { ...sha1, credentialData: JSON.stringify({ hashIterations: 1000, algorithm: 'pbkdf2' }) },
    });
    expect(unknown.success).toBe(false);
  });
});

describe("Firebase's scrypt", () => {
  const project = {
    signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
    saltSeparator: 'Bw==',
    rounds: 8,
    memCost: 14,
  };

  test("the vector of firebase/scrypt's README verifies with user1password and no other", async () => {
    const stored = {
      format: 'firebase-scrypt',
      ...project,
      salt: '42xEC+ixf3L2lw==',
      hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
    };
    expect(await verifies(stored, 'user1password')).toBe('match');
    expect(await verifies(stored, 'user1passwore')).toBe('mismatch');
    expect(await verifies({ ...stored, saltSeparator: '' }, 'user1password')).toBe('mismatch');
  });

  test("Ory Kratos' Firebase vector (another project's signer key) verifies", async () => {
    const stored = {
      format: 'firebase-scrypt',
      signerKey: 'YE0dO4bwD4JnJafh6lZZfkp1MtKzuKAXQcDCJNJNyeCHairWHKENOkbh3dzwaCdizzOspwr/FITUVlnOAwPKyw==',
      saltSeparator: 'Bw==',
      rounds: 8,
      memCost: 14,
      salt: 'sPtDhWcd1MfdAw==',
      hash: 'xbSou7FOl6mChCyzpCPIQ7tku7nsQMTFtyOZSXXd7tjBa4NtimOx7v42Gv2SfzPQu1oxM2/k4SsbOu73wlKe1A==',
    };
    expect(await verifies(stored, '8x4WjoDbSxJZdR')).toBe('match');
    expect(await verifies(stored, '8x4WjoDbSxJZdr')).toBe('mismatch');
  });

  test('memory past 64 MiB per verification, or a hash shorter than the signer key, is refused', () => {
    const base = { format: 'firebase-scrypt', ...project, salt: '42xEC+ixf3L2lw==', hash: project.signerKey };
    const bomb = parseLegacyHash({ ...base, memCost: 15, rounds: 16 });
    expect(bomb.ok).toBe(true);
    const past = parseLegacyHash({ ...base, memCost: 16 });
    expect(past.ok).toBe(false);
    const short = parseLegacyHash({ ...base, hash: 'Bw==' });
    expect(short).toMatchObject({ ok: false, refusals: [{ pointer: '/hash' }] });
  });
});

describe('argon2i and argon2id', () => {
  test('PHC strings @node-rs/argon2 makes verify, each under its own format name', async () => {
    for (const [format, algorithm] of [
      ['argon2i', 1],
      ['argon2id', 2],
    ] as const) {
      const hash = await argon2Hash('an argon password', { algorithm, memoryCost: 4096, timeCost: 3, parallelism: 1 });
      expect(hash.startsWith(`$${format}$v=19$m=4096,t=3,p=1$`)).toBe(true);
      expect(await verifies({ format, hash }, 'an argon password')).toBe('match');
      expect(await verifies({ format, hash }, 'an argon passwore')).toBe('mismatch');
      expect(await verifies({ format: format === 'argon2i' ? 'argon2id' : 'argon2i', hash }, 'an argon password')).toBe('refused');
    }
  });

  test('more memory or work than the caps is refused before any verification', async () => {
    const salt = 'c29tZXNhbHRzb21lc2FsdA';
    const digest = 'KXwRsQ7n6Z1f6y1c5k0r4HnH5f6s0b3H1m7v9w2x4yQ';
    expect(await verifies({ format: 'argon2id', hash: `$argon2id$v=19$m=1048576,t=2,p=1$${salt}$${digest}` }, 'x')).toBe('refused');
    expect(await verifies({ format: 'argon2id', hash: `$argon2id$v=19$m=65536,t=8,p=1$${salt}$${digest}` }, 'x')).toBe('refused');
    expect(await verifies({ format: 'argon2id', hash: `$argon2id$v=19$m=19456,t=2,p=1$${salt}$${digest}` }, 'x')).toBe('mismatch');
  });
});
